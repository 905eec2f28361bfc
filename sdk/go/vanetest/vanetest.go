// Package vanetest gives tests a Vane client without a server: flags are set in code, and every
// client made from the same Data sees each change at once (like LaunchDarkly's testdata).
//
//	td := vanetest.New()
//	td.Bool("new-checkout-flow", true)
//	client, _ := td.Client()
//	… code under test uses client …
//	td.Bool("new-checkout-flow", false) // the client serves false from now on
package vanetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Data is a configuration held in memory and the clients that follow it. Safe for concurrent use.
type Data struct {
	mu       sync.Mutex
	version  int64
	flags    map[string]engine.Flag
	segments map[string]engine.Segment
	subs     map[int]func(*vane.Configuration)
	next     int
}

// New returns an empty configuration (every flag is FLAG_NOT_FOUND until set).
func New() *Data {
	return &Data{flags: map[string]engine.Flag{}, segments: map[string]engine.Segment{}, subs: map[int]func(*vane.Configuration){}}
}

// Client makes an offline client fed by d, ready at once. Close it when done.
func (d *Data) Client() (*vane.Client, error) {
	c, err := vane.NewClient(vane.Config{DataSource: d, Bootstrap: d.bytes()})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Start implements vane.DataSource.
func (d *Data) Start(ctx context.Context, update func(*vane.Configuration)) {
	d.mu.Lock()
	id := d.next
	d.next++
	d.subs[id] = update
	conf := d.configuration()
	d.mu.Unlock()
	update(conf)
	<-ctx.Done()
	d.mu.Lock()
	delete(d.subs, id)
	d.mu.Unlock()
}

// Bool sets a boolean flag serving value to everyone.
func (d *Data) Bool(key string, value bool) *Data { return d.Value(key, value) }

// Value sets a flag serving value (a bool, number, string or JSON value) to everyone.
func (d *Data) Value(key string, value any) *Data {
	typ := engine.JSON
	switch value.(type) {
	case bool:
		typ = engine.Boolean
	case string:
		typ = engine.String
	case int, int64, float64, float32, int32:
		typ = engine.Number
	}
	v, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("vanetest: value of %s: %v", key, err))
	}
	vars := []engine.Variation{{ID: "value", Name: "Value", Value: v}}
	def := "value"
	if typ == engine.Boolean {
		vars = []engine.Variation{{ID: "true", Name: "True", Value: json.RawMessage("true")}, {ID: "false", Name: "False", Value: json.RawMessage("false")}}
		def = "false"
		if value.(bool) {
			def = "true"
		}
	} else {
		other := map[engine.Type]string{engine.String: `"__other__"`, engine.Number: "-1.5e300", engine.JSON: `{"__other__":true}`}[typ]
		vars = append(vars, engine.Variation{ID: "other", Name: "Other", Value: json.RawMessage(other)})
	}
	return d.Flag(engine.Flag{Key: key, Type: typ, Variations: vars, Status: engine.Enabled, DefaultVariation: def,
		Fallthrough: engine.Serve{Variation: def}})
}

// Flag sets a flag's whole configuration (targets, rules, rollouts: anything the server serves).
func (d *Data) Flag(f engine.Flag) *Data {
	d.mu.Lock()
	d.version++
	f.Version = d.version
	d.flags[f.Key] = f
	d.publish()
	return d
}

// Segment sets a segment.
func (d *Data) Segment(s engine.Segment) *Data {
	d.mu.Lock()
	d.version++
	d.segments[s.Key] = s
	d.publish()
	return d
}

// Delete removes a flag.
func (d *Data) Delete(key string) *Data {
	d.mu.Lock()
	d.version++
	delete(d.flags, key)
	d.publish()
	return d
}

// publish sends the configuration to every client; called with d.mu held, releases it.
func (d *Data) publish() {
	conf := d.configuration()
	subs := make([]func(*vane.Configuration), 0, len(d.subs))
	for _, f := range d.subs {
		subs = append(subs, f)
	}
	d.mu.Unlock()
	for _, f := range subs {
		f(conf)
	}
}

func (d *Data) configuration() *vane.Configuration {
	c := &vane.Configuration{SchemaVersion: vane.SchemaVersion, Environment: "test", Version: d.version}
	for _, f := range d.flags {
		c.Flags = append(c.Flags, f)
	}
	for _, s := range d.segments {
		c.Segments = append(c.Segments, s)
	}
	sort.Slice(c.Flags, func(i, j int) bool { return c.Flags[i].Key < c.Flags[j].Key })
	sort.Slice(c.Segments, func(i, j int) bool { return c.Segments[i].Key < c.Segments[j].Key })
	return c
}

func (d *Data) bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := json.Marshal(d.configuration())
	if err != nil {
		panic(err)
	}
	return b
}
