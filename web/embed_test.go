package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"regexp"
	"testing"
)

// TestFirstLoadSize keeps the JavaScript of the portal's first load within 300 kB gzipped.
func TestFirstLoadSize(t *testing.T) {
	dist := Dist()
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	scripts := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+\.js)"`).FindAllSubmatch(index, -1)
	if len(scripts) == 0 {
		t.Fatalf("index.html loads no script: %s", index)
	}
	total := 0
	for _, m := range scripts {
		data, err := fs.ReadFile(dist, string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(data)
		_ = zw.Close()
		total += buf.Len()
	}
	t.Logf("first load: %d script(s), %.1f kB of JavaScript gzipped", len(scripts), float64(total)/1024)
	if total > 300*1024 {
		t.Errorf("first load is %.1f kB of JavaScript gzipped, over the 300 kB budget", float64(total)/1024)
	}
}
