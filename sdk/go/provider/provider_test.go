package provider_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/provider"
	"github.com/vanehq/vane/sdk/go/vanetest"
)

// conformance is the shared vectors (sdk/testdata/conformance.json).
type conformance struct {
	Configuration json.RawMessage `json:"configuration"`
	Cases         []struct {
		Name    string         `json:"name"`
		Flag    string         `json:"flag"`
		Context map[string]any `json:"context"`
		Want    struct {
			Value     any    `json:"value"`
			Variation string `json:"variation"`
			Reason    string `json:"reason"`
			ErrorCode string `json:"error_code"`
		} `json:"want"`
	} `json:"cases"`
}

func loadConformance(t *testing.T) *conformance {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c conformance
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestConformanceThroughOpenFeature: every vector, asked through the OpenFeature client, gives the
// vector's value (or the caller's default on an error), variant, reason and error code.
func TestConformanceThroughOpenFeature(t *testing.T) {
	v := loadConformance(t)
	c, err := vane.NewClient(vane.Config{Offline: true, Bootstrap: v.Configuration})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := of.SetNamedProviderAndWait("conformance", provider.New(c)); err != nil {
		t.Fatal(err)
	}
	client := of.NewClient("conformance")
	ctx := context.Background()
	for _, tc := range v.Cases {
		attrs := map[string]any{}
		for k, x := range tc.Context {
			attrs[k] = x
		}
		ec := of.NewEvaluationContext("", attrs)
		d, _ := client.ObjectValueDetails(ctx, tc.Flag, "default", ec)
		want := tc.Want.Value
		if tc.Want.Reason == "ERROR" {
			want = "default"
		}
		if !reflect.DeepEqual(d.Value, want) || d.Variant != tc.Want.Variation || string(d.Reason) != tc.Want.Reason ||
			string(d.ErrorCode) != tc.Want.ErrorCode {
			t.Errorf("%s: %+v, want %+v", tc.Name, d, tc.Want)
		}
	}
	// Typed calls: a type mismatch is the default with TYPE_MISMATCH; versions are in the metadata.
	if d, _ := client.StringValueDetails(ctx, "op-00-equals", "x", of.NewEvaluationContext("u", nil)); d.Value != "x" || d.ErrorCode != of.TypeMismatchCode {
		t.Errorf("string of a boolean flag = %+v", d)
	}
	if d, _ := client.IntValueDetails(ctx, "max-items", 1, of.NewEvaluationContext("u", map[string]any{"age": 20})); d.ErrorCode != of.TypeMismatchCode {
		t.Errorf("50.5 as an int = %+v", d)
	}
	if d, _ := client.IntValueDetails(ctx, "max-items", 1, of.NewEvaluationContext("u", nil)); d.Value != 10 {
		t.Errorf("10 as an int = %+v", d)
	}
	if d, _ := client.BooleanValueDetails(ctx, "rollout-half", true, of.NewEvaluationContext("user-102", nil)); d.Value != true || d.Reason != of.SplitReason ||
		d.FlagMetadata["version"] != int64(3) {
		t.Errorf("targeting key as the key = %+v", d)
	}
	if d, _ := client.BooleanValueDetails(ctx, "rollout-half", true, of.NewEvaluationContext("", nil)); d.ErrorCode != of.TargetingKeyMissingCode || d.Value != true {
		t.Errorf("no targeting key = %+v", d)
	}
	if d, _ := client.BooleanValueDetails(ctx, "nope", true, of.NewEvaluationContext("u", nil)); d.ErrorCode != of.FlagNotFoundCode {
		t.Errorf("unknown flag = %+v", d)
	}
}

// TestEvents: a change is CONFIGURATION_CHANGED naming the flag.
func TestEvents(t *testing.T) {
	td := vanetest.New().Bool("dark-mode", false)
	c, err := td.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := of.SetNamedProviderAndWait("events", provider.New(c)); err != nil {
		t.Fatal(err)
	}
	client := of.NewClient("events")
	changed := make(chan []string, 4)
	cb := func(d of.EventDetails) { changed <- d.FlagChanges }
	client.AddHandler(of.ProviderConfigChange, &cb)
	td.Bool("dark-mode", true)
	select {
	case flags := <-changed:
		if !slices.Equal(flags, []string{"dark-mode"}) {
			t.Fatalf("changed %v", flags)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no CONFIGURATION_CHANGED event")
	}
	if on, _ := client.BooleanValue(context.Background(), "dark-mode", false, of.NewEvaluationContext("u", nil)); !on {
		t.Fatal("the change is not served")
	}
}
