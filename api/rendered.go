package api

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
)

// renderedEntries bounds the rendered cache (a page of 50 flags is about 40 KB of JSON).
const renderedEntries = 128

// rendered keeps the JSON of pages by their services stamp (services.Page.Stamp): encoding a page
// of 50 flags costs more than finding it, and a stamp always names the same content.
type rendered struct {
	mu      sync.Mutex
	entries map[string][]byte
}

// JSON answers 200 with v encoded, taking the encoding from the cache when stamp is known and
// keeping it otherwise. An empty stamp is encoded every time.
func (r *rendered) JSON(c *gin.Context, stamp string, v func() any) {
	if stamp == "" {
		c.JSON(http.StatusOK, v())
		return
	}
	r.mu.Lock()
	body, ok := r.entries[stamp]
	r.mu.Unlock()
	if !ok {
		var err error
		if body, err = json.Marshal(v()); err != nil {
			fail(c, err)
			return
		}
		r.mu.Lock()
		if r.entries == nil {
			r.entries = make(map[string][]byte)
		}
		if len(r.entries) >= renderedEntries {
			for k := range r.entries { // any entry makes room: the cache stays bounded
				delete(r.entries, k)
				break
			}
		}
		r.entries[stamp] = body
		r.mu.Unlock()
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}
