package dataplane_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vanehq/vane/dataplane"
	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// TestConformanceOnTheServer runs the SDKs' conformance vectors (sdk/testdata/conformance.json)
// through the server's side: its context check and normalisation (CheckContext), the compiled
// flags and the served value and variation.
func TestConformanceOnTheServer(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "sdk", "testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Configuration vane.Configuration `json:"configuration"`
		Cases         []struct {
			Name    string         `json:"name"`
			Flag    string         `json:"flag"`
			Context map[string]any `json:"context"`
			Want    struct {
				Value     any    `json:"value"`
				Variation string `json:"variation"`
				Reason    string `json:"reason"`
				ErrorCode string `json:"error_code"`
				RuleID    string `json:"rule_id"`
			} `json:"want"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	segs := map[string]engine.Segment{}
	for _, s := range v.Configuration.Segments {
		segs[s.Key] = s
	}
	flags := map[string]*dataplane.Flag{}
	for _, f := range v.Configuration.Flags {
		c, err := engine.Compile(f, segs)
		if err != nil {
			c = engine.Failed(f)
		}
		flags[f.Key] = &dataplane.Flag{Compiled: c}
	}
	for _, tc := range v.Cases {
		ctx, err := dataplane.CheckContext(tc.Context, "context")
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		f := flags[tc.Flag]
		if f == nil {
			if tc.Want.ErrorCode != vane.ErrorFlagNotFound {
				t.Errorf("%s: no such flag, want %+v", tc.Name, tc.Want)
			}
			continue
		}
		e := dataplane.Evaluation{Flag: f, Result: f.Evaluate(ctx)}
		reason, code := string(e.Result.Reason), e.Result.ErrorCode
		if e.Result.Reason == engine.ReasonFlagNotFound {
			reason, code = vane.ReasonError, vane.ErrorFlagNotFound
		}
		got := fmt.Sprint(e.Value(), e.VariationID(), reason, code, f.RuleID(e.Result))
		want := fmt.Sprint(tc.Want.Value, tc.Want.Variation, tc.Want.Reason, tc.Want.ErrorCode, tc.Want.RuleID)
		if reason == vane.ReasonError && code == vane.ErrorFlagNotFound {
			got = fmt.Sprint(nil, "", reason, code, "")
		}
		if got != want {
			t.Errorf("%s: server %s, want %s", tc.Name, got, want)
		}
	}
}
