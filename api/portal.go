package api

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// portal serves the built single-page app: its files as they are (the hashed ones under assets/
// cached forever), and index.html for every other GET that is not an API path, so the app's own
// routes survive a reload. API paths keep the JSON 404.
type portal struct {
	files fs.FS
	index []byte
}

func newPortal(files fs.FS) *portal {
	if files == nil {
		return nil
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil // not built: the API alone
	}
	return &portal{files: files, index: index}
}

// apiPath reports whether a path belongs to the API rather than to the portal.
func apiPath(p string) bool {
	for _, prefix := range []string{"/api/", "/ofrep/", "/swagger/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return p == "/api" || p == "/ofrep" || p == "/healthz" || p == "/readyz"
}

// serve answers c when it is a portal request and reports whether it did.
func (p *portal) serve(c *gin.Context) bool {
	if p == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) || apiPath(c.Request.URL.Path) {
		return false
	}
	name := strings.TrimPrefix(path.Clean(c.Request.URL.Path), "/")
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if name != "" && name != "index.html" {
		if data, err := fs.ReadFile(p.files, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				h.Set("Cache-Control", "no-cache")
			}
			http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(data))
			return true
		}
		if strings.HasPrefix(name, "assets/") { // a missing asset is a 404, never the app
			fail(c, errs.NotFoundf("no file %s", c.Request.URL.Path))
			return true
		}
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	http.ServeContent(c.Writer, c.Request, "index.html", time.Time{}, bytes.NewReader(p.index))
	return true
}
