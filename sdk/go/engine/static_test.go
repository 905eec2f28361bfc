package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestStatic: a flag Static calls static answers every context as Static says. Checked on every
// flag of the conformance vectors with every case's context (and none), for each status.
func TestStatic(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Configuration struct {
			Flags    []Flag    `json:"flags"`
			Segments []Segment `json:"segments"`
		} `json:"configuration"`
		Cases []struct {
			Context Context `json:"context"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	segs := map[string]Segment{}
	for _, s := range file.Configuration.Segments {
		segs[s.Key] = s
	}
	contexts := []Context{nil, {}}
	for _, c := range file.Cases {
		contexts = append(contexts, c.Context)
	}
	var static, dynamic int
	for _, f := range file.Configuration.Flags {
		for _, status := range []Status{f.Status, Active, Draft, Disabled, Paused, RolledOut} {
			f.Status = status
			c, err := Compile(f, segs)
			if err != nil {
				c = Failed(f)
			}
			want, ok := c.Static()
			if !ok {
				dynamic++
				if !status.Serving() {
					t.Errorf("%s %s: a flag that is not serving is static", f.Key, status)
				}
				continue
			}
			static++
			for _, ctx := range contexts {
				if got := c.Evaluate(ctx); got != want {
					t.Fatalf("%s %s: Static says %+v, %v gets %+v", f.Key, status, want, ctx, got)
				}
			}
		}
	}
	if static == 0 || dynamic == 0 {
		t.Errorf("%d static and %d dynamic: the vectors should have both", static, dynamic)
	}
}
