package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// FuzzBindJSON feeds arbitrary bodies to the strict decoder: it must never panic, and every refusal
// must be a client error (400 or 413) — never an internal one.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []string{`{"key":"web","environments":[{"key":"dev","production":true}]}`, `{"key":5}`, `[]`, ``,
		`{"key":"a"}{"key":"b"}`, `{"environments":[{"tier":1}]}`, `{"key":"\ud800"}`, `{"description":` + strings.Repeat(`[`, 200)} {
		f.Add(s)
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		c.Request.Body = http.MaxBytesReader(w, c.Request.Body, MaxBodyBytes)
		var req ProjectRequest
		err := bindJSON(c, &req)
		if err == nil {
			return
		}
		if k := errs.KindOf(err); k != errs.Malformed && k != errs.TooLarge {
			t.Fatalf("bindJSON(%q) = %v (kind %v), want a malformed-request error", body, err, k)
		}
	})
}
