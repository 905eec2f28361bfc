package vanetest_test

import (
	"encoding/json"
	"testing"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/sdk/go/vanetest"
)

func TestData(t *testing.T) {
	td := vanetest.New().Bool("dark-mode", true).Value("greeting", "hello").Value("max", 3).Value("banner", map[string]any{"show": true})
	c, err := td.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx := vane.Context{"key": "u1"}
	if !c.Bool("dark-mode", ctx, false) || c.String("greeting", ctx, "") != "hello" || c.Number("max", ctx, 0) != 3 {
		t.Fatalf("served %v %v %v", c.Bool("dark-mode", ctx, false), c.String("greeting", ctx, ""), c.Number("max", ctx, 0))
	}
	if m, _ := c.JSON("banner", ctx, nil).(map[string]any); m["show"] != true {
		t.Fatalf("banner = %v", c.JSON("banner", ctx, nil))
	}
	events := make(chan vane.Event, 4)
	defer c.Subscribe(func(e vane.Event) { events <- e })()
	td.Bool("dark-mode", false)
	if e := <-events; e.Kind != vane.EventChanged || len(e.Flags) != 1 || e.Flags[0] != "dark-mode" {
		t.Fatalf("event %+v", e)
	}
	if c.Bool("dark-mode", ctx, true) {
		t.Fatal("the change did not reach the client")
	}
	// Any configuration: a rule for one country.
	td.Flag(engine.Flag{Key: "eu-only", Type: engine.Boolean, Status: engine.Enabled, DefaultVariation: "false",
		Variations: []engine.Variation{{ID: "true", Name: "Yes", Value: json.RawMessage("true")}, {ID: "false", Name: "No", Value: json.RawMessage("false")}},
		Rules: []engine.Rule{{ID: "eu", Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn,
			Values: []json.RawMessage{json.RawMessage(`"FR"`)}}}, Serve: engine.Serve{Variation: "true"}}},
		Fallthrough: engine.Serve{Variation: "false"}})
	<-events
	if !c.Bool("eu-only", vane.Context{"key": "u", "country": "FR"}, false) || c.Bool("eu-only", ctx, false) {
		t.Fatal("rule not applied")
	}
	td.Delete("eu-only")
	<-events
	if d := c.Evaluate("eu-only", ctx); d.ErrorCode != vane.ErrorFlagNotFound {
		t.Fatalf("deleted flag = %+v", d)
	}
}
