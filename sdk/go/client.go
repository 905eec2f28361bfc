// Package vane is Vane's Go SDK: it keeps an environment's configuration in memory, in sync with
// the server over its event stream (or by polling), and evaluates flags locally with the very
// engine the server runs, so an evaluation costs no network round trip.
//
//	client, err := vane.NewClient(vane.Config{BaseURL: "http://localhost:8000", SDKKey: os.Getenv("VANE_SDK_KEY")})
//	if err != nil { … }
//	defer client.Close()
//	_ = client.WaitReady(ctx)
//	if client.IsFeatureEnabled("new-checkout-flow", "user-123", map[string]any{"plan": "enterprise"}) { … }
//
// The module needs only the standard library.
package vane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vanehq/vane/sdk/go/engine"
)

// Config configures a Client. BaseURL and SDKKey are required unless Offline or DataSource is set.
type Config struct {
	// BaseURL is the Vane server, e.g. "https://flags.example.com".
	BaseURL string
	// SDKKey is the environment's server-side SDK key (srv-…).
	SDKKey string
	// HTTPClient sends every request (default: a client without an overall timeout, since the
	// stream is long-lived; requests other than the stream time out after RequestTimeout).
	HTTPClient *http.Client
	// RequestTimeout bounds configuration fetches and event flushes (default 10 s).
	RequestTimeout time.Duration
	// Polling turns the stream off: the configuration is fetched every PollInterval instead.
	Polling bool
	// PollInterval is the polling period, also used while the stream cannot be opened (default 30 s).
	PollInterval time.Duration
	// StaleAfter is how long the stream may be lost before the client reports itself stale
	// (default 30 s).
	StaleAfter time.Duration
	// Bootstrap is a configuration to start from (the JSON of /api/v1/sdk/config), and
	// BootstrapFile a file holding one: the client is ready at once and the server's configuration
	// replaces it when it arrives (never, when Offline).
	Bootstrap     []byte
	BootstrapFile string
	// PersistPath, when set, is a file where the last good configuration is saved, and from which
	// the client starts when it holds one (so a restart while the server is unreachable serves
	// the last known flags).
	PersistPath string
	// Offline never contacts the server: the client serves Bootstrap (or nothing: every flag is
	// FLAG_NOT_FOUND and the fallback is returned). For tests and air-gapped runs.
	Offline bool
	// DataSource replaces the server as the source of configurations (see the vanetest package).
	DataSource DataSource
	// EventsInterval is how often evaluation counts and reported outcomes are sent to the server
	// (default 10 s; negative: never). They are also sent on Close.
	EventsInterval time.Duration
	// Logger receives the client's own messages (default: slog.Default()).
	Logger *slog.Logger
}

// DataSource feeds a client its configurations instead of the server. Start is called once, in
// the background; it calls update with each new configuration until ctx ends.
type DataSource interface {
	Start(ctx context.Context, update func(*Configuration))
}

// Detail is one evaluation: the value served and why.
type Detail struct {
	// Value is the served value (bool, float64, string, or a decoded JSON value); nil when nothing
	// is served (the flag is unknown, or the client is not ready).
	Value any
	// Variation is the served variation's id.
	Variation string
	// Reason is OpenFeature's: TARGETING_MATCH, SPLIT, DEFAULT, STATIC, DISABLED or ERROR.
	Reason string
	// RuleID is the matching rule's id, if a rule matched.
	RuleID string
	// ErrorCode is set when Reason is ERROR: FLAG_NOT_FOUND, TARGETING_KEY_MISSING,
	// PROVIDER_NOT_READY, INVALID_CONTEXT or GENERAL.
	ErrorCode string
	// Version is the flag configuration's version.
	Version int64
}

// Reasons and error codes (OpenFeature's vocabulary).
const (
	ReasonError = "ERROR"

	ErrorFlagNotFound        = "FLAG_NOT_FOUND"
	ErrorProviderNotReady    = "PROVIDER_NOT_READY"
	ErrorTargetingKeyMissing = "TARGETING_KEY_MISSING"
	ErrorInvalidContext      = "INVALID_CONTEXT"
	ErrorTypeMismatch        = "TYPE_MISMATCH"
	ErrorGeneral             = "GENERAL"
)

// EventKind is what happened to a client's configuration.
type EventKind int

// Event kinds.
const (
	// EventReady: the first configuration arrived, or the stream is back after being stale.
	EventReady EventKind = iota + 1
	// EventChanged: a new configuration; Flags lists the flags that changed.
	EventChanged
	// EventStale: the stream has been lost for longer than StaleAfter; the last configuration is
	// still served.
	EventStale
	// EventError: the server refused the client (for instance, a revoked SDK key).
	EventError
)

// Event is a change of a client's state, for listeners (see Subscribe).
type Event struct {
	Kind  EventKind
	Flags []string
	Err   error
}

// ErrClosed is returned by WaitReady after Close.
var ErrClosed = errors.New("vane: client closed")

// Client evaluates flags locally. It is safe for concurrent use; create one per environment and
// share it.
type Client struct {
	cfg    Config
	log    *slog.Logger
	http   *http.Client
	state  atomic.Pointer[store]
	ready  chan struct{}
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	stale  atomic.Bool

	installMu sync.Mutex // one configuration change at a time (stream, fetch and data source race)
	mu        sync.Mutex
	listeners map[int]func(Event)
	nextID    int
	retired   []*flagState
	outcomes  map[outcomeKey]*outcome
	noEvents  atomic.Bool // the server refused events from this key (a client key)
}

// NewClient makes a client and starts syncing in the background. It fails only for a bad
// configuration (a missing URL or key, an unreadable bootstrap).
func NewClient(cfg Config) (*Client, error) {
	if cfg.DataSource == nil && !cfg.Offline {
		if cfg.BaseURL == "" {
			return nil, errors.New("vane: Config.BaseURL is required")
		}
		if cfg.SDKKey == "" {
			return nil, errors.New("vane: Config.SDKKey is required")
		}
		if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
			return nil, fmt.Errorf("vane: Config.BaseURL %q must start with http:// or https://", cfg.BaseURL)
		}
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 30 * time.Second
	}
	if cfg.EventsInterval == 0 {
		cfg.EventsInterval = 10 * time.Second
	}
	c := &Client{cfg: cfg, log: cfg.Logger, http: cfg.HTTPClient, ready: make(chan struct{}),
		listeners: map[int]func(Event){}, outcomes: map[outcomeKey]*outcome{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	boot := cfg.Bootstrap
	if cfg.BootstrapFile != "" {
		b, err := os.ReadFile(cfg.BootstrapFile)
		if err != nil {
			return nil, fmt.Errorf("vane: read Config.BootstrapFile: %w", err)
		}
		boot = b
	}
	if boot != nil {
		conf, err := ParseConfiguration(boot)
		if err != nil {
			return nil, fmt.Errorf("vane: Config.Bootstrap: %w", err)
		}
		c.replace(conf)
	} else if cfg.PersistPath != "" {
		if b, err := os.ReadFile(cfg.PersistPath); err == nil {
			if conf, err := ParseConfiguration(b); err == nil {
				c.replace(conf)
			} else {
				c.log.Warn("vane: ignoring the saved configuration", "path", cfg.PersistPath, "err", err)
			}
		}
	}
	if cfg.Offline && cfg.DataSource == nil && c.state.Load() == nil {
		c.replace(&Configuration{SchemaVersion: SchemaVersion})
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	switch {
	case cfg.DataSource != nil:
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			cfg.DataSource.Start(c.ctx, c.install)
		}()
	case !cfg.Offline:
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.sync()
		}()
	}
	if cfg.EventsInterval > 0 && !cfg.Offline && cfg.DataSource == nil {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.flushLoop()
		}()
	}
	return c, nil
}

// WaitReady waits until the client holds a configuration (from the server, the bootstrap or the
// saved file), ctx ends, or the client is closed. Evaluation never waits: before the first
// configuration it returns the fallback with error PROVIDER_NOT_READY.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closedCh():
		return ErrClosed
	}
}

func (c *Client) closedCh() <-chan struct{} {
	if c.ctx == nil {
		return nil
	}
	return c.ctx.Done()
}

// Ready reports whether the client holds a configuration.
func (c *Client) Ready() bool { return c.state.Load() != nil }

// Version is the version of the configuration the client serves (0 before the first).
func (c *Client) Version() int64 {
	if s := c.state.Load(); s != nil {
		return s.cfg.Version
	}
	return 0
}

// Close stops syncing, sends the pending evaluation counts and outcomes, and waits for the
// client's goroutines. Evaluation keeps working on the last configuration.
func (c *Client) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.cancel()
	c.wg.Wait()
	if c.cfg.EventsInterval > 0 && !c.cfg.Offline && c.cfg.DataSource == nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
		defer cancel()
		return c.flush(ctx)
	}
	return nil
}

// Subscribe calls f with every event (from the client's own goroutines; f must not block for
// long) until the returned function is called.
func (c *Client) Subscribe(f func(Event)) (unsubscribe func()) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = f
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.listeners, id)
		c.mu.Unlock()
	}
}

func (c *Client) emit(e Event) {
	c.mu.Lock()
	ls := make([]func(Event), 0, len(c.listeners))
	for _, f := range c.listeners {
		ls = append(ls, f)
	}
	c.mu.Unlock()
	for _, f := range ls {
		f(e)
	}
}

// replace installs a whole configuration (compiled off the hot path) and tells listeners.
func (c *Client) replace(conf *Configuration) {
	next := compile(conf)
	prev := c.state.Swap(next)
	var changed []string
	if prev != nil {
		retired := make([]*flagState, 0, len(prev.flags))
		segmentsSame := sameSegments(prev, next)
		for k, old := range prev.flags {
			retired = append(retired, old)
			if nf := next.flags[k]; nf == nil || nf.Version != old.Version || nf.def.Status != old.def.Status ||
				(!segmentsSame && usesSegments(nf.def)) {
				changed = append(changed, k)
			}
		}
		for k := range next.flags {
			if prev.flags[k] == nil {
				changed = append(changed, k)
			}
		}
		c.retire(retired)
	}
	c.afterInstall(prev == nil, next, changed)
}

// patch applies a patch to the current configuration; false when it does not follow it (a gap:
// the caller fetches the whole configuration again).
func (c *Client) patch(p *Patch) bool {
	c.installMu.Lock()
	defer c.installMu.Unlock()
	prev := c.state.Load()
	if prev == nil || p.PreviousVersion != prev.cfg.Version {
		return false
	}
	next, retired, changed := prev.patched(p)
	if !c.state.CompareAndSwap(prev, next) {
		return false
	}
	c.retire(retired)
	c.afterInstall(false, next, changed)
	return true
}

func (c *Client) afterInstall(first bool, next *store, changed []string) {
	c.once.Do(func() { close(c.ready) })
	if c.cfg.PersistPath != "" {
		c.persist(next.cfg)
	}
	switch {
	case first:
		c.emit(Event{Kind: EventReady})
	case len(changed) > 0:
		sort.Strings(changed)
		c.emit(Event{Kind: EventChanged, Flags: changed})
	}
}

// persist saves the configuration for the next start (written whole, then renamed into place).
func (c *Client) persist(conf *Configuration) {
	b, err := json.Marshal(conf)
	if err == nil {
		tmp := c.cfg.PersistPath + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, c.cfg.PersistPath)
		}
	}
	if err != nil {
		c.log.Warn("vane: could not save the configuration", "path", c.cfg.PersistPath, "err", err)
	}
}

// Evaluate evaluates a flag for a context. It never blocks and never fails: problems are in the
// detail's Reason (ERROR) and ErrorCode.
func (c *Client) Evaluate(flagKey string, ctx Context) Detail {
	st := c.state.Load()
	if st == nil {
		return Detail{Reason: ReasonError, ErrorCode: ErrorProviderNotReady}
	}
	f := st.flags[flagKey]
	if f == nil {
		return Detail{Reason: ReasonError, ErrorCode: ErrorFlagNotFound}
	}
	ectx, key, err := c.normalize(ctx)
	if err != nil {
		return Detail{Reason: ReasonError, ErrorCode: ErrorInvalidContext, Version: f.Version}
	}
	return c.detail(f, f.EvaluateKeyed(ectx, key))
}

// normalize returns the context to evaluate and its "key" (nil when it has none), looked up once
// for the engine.
func (c *Client) normalize(ctx Context) (engine.Context, any, error) {
	if key, asIs := keyAsIs(ctx); asIs {
		return engine.Context(ctx), key, nil // the application's own map, read only
	}
	cp := make(map[string]any, len(ctx)+1) // the key must be written: never into the caller's map
	for k, v := range ctx {
		cp[k] = v
	}
	ectx, err := Normalize(cp)
	if err != nil {
		return nil, nil, err
	}
	return ectx, ectx["key"], nil
}

func (c *Client) detail(f *flagState, r engine.Result) Detail {
	if r.Reason == engine.ReasonFlagNotFound {
		return Detail{Reason: ReasonError, ErrorCode: ErrorFlagNotFound, Version: f.Version}
	}
	d := Detail{Reason: string(r.Reason), ErrorCode: r.ErrorCode, Version: f.Version, RuleID: f.RuleID(r)}
	if r.Variation >= 0 && r.Variation < len(f.Values) {
		f.counts[r.Variation].Add(1)
		d.Value = f.Values[r.Variation]
		d.Variation = f.Variations[r.Variation].ID
	}
	return d
}

// value evaluates for the typed helpers: the served value, or ok false on any error (they return
// their fallback then). It builds no Detail, so the helpers cost the engine and little more.
func (c *Client) value(flagKey string, ctx Context) (v any, ok bool) {
	st := c.state.Load()
	if st == nil {
		return nil, false
	}
	f := st.flags[flagKey]
	if f == nil {
		return nil, false
	}
	ectx, key, err := c.normalize(ctx)
	if err != nil {
		return nil, false
	}
	r := f.EvaluateKeyed(ectx, key)
	if r.Variation < 0 || r.Variation >= len(f.Values) {
		return nil, false
	}
	f.counts[r.Variation].Add(1)
	return f.Values[r.Variation], r.Reason != engine.ReasonError
}

// Bool evaluates a boolean flag; fallback on any error or when the flag is not boolean.
func (c *Client) Bool(flagKey string, ctx Context, fallback bool) bool {
	if v, ok := c.value(flagKey, ctx); ok {
		if b, isBool := v.(bool); isBool {
			return b
		}
	}
	return fallback
}

// String evaluates a string flag; fallback on any error or when the flag is not a string.
func (c *Client) String(flagKey string, ctx Context, fallback string) string {
	if v, ok := c.value(flagKey, ctx); ok {
		if s, isString := v.(string); isString {
			return s
		}
	}
	return fallback
}

// Number evaluates a number flag; fallback on any error or when the flag is not a number.
func (c *Client) Number(flagKey string, ctx Context, fallback float64) float64 {
	if v, ok := c.value(flagKey, ctx); ok {
		if n, isNumber := v.(float64); isNumber {
			return n
		}
	}
	return fallback
}

// JSON evaluates a JSON flag (an object or array, decoded); fallback on any error.
func (c *Client) JSON(flagKey string, ctx Context, fallback any) any {
	if v, ok := c.value(flagKey, ctx); ok && v != nil {
		return v
	}
	return fallback
}

// IsFeatureEnabled is source 000's question: is the feature on for this user? True when a boolean
// flag serves true, or another flag serves something other than its default; false when the flag
// is unknown, off, or anything fails.
func (c *Client) IsFeatureEnabled(flagKey, userID string, attributes map[string]any) bool {
	st := c.state.Load()
	if st == nil {
		return false
	}
	f := st.flags[flagKey]
	if f == nil {
		return false
	}
	ctx := make(engine.Context, len(attributes)+1)
	for k, v := range attributes {
		ctx[k] = v
	}
	if userID != "" {
		ctx["key"] = userID
	} else if _, err := Normalize(ctx); err != nil {
		return false
	}
	r := f.Evaluate(ctx)
	c.detail(f, r)
	return r.Reason != engine.ReasonError && f.Enabled(r)
}

// AllFlags evaluates every flag for a context: source 003's {key: value} map (flags that serve
// nothing are left out).
func (c *Client) AllFlags(ctx Context) map[string]any {
	st := c.state.Load()
	if st == nil {
		return map[string]any{}
	}
	ectx, key, err := c.normalize(ctx)
	if err != nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(st.flags))
	for k, f := range st.flags {
		if d := c.detail(f, f.EvaluateKeyed(ectx, key)); d.Value != nil {
			out[k] = d.Value
		}
	}
	return out
}

// Flags lists the keys of the flags the client holds.
func (c *Client) Flags() []string {
	st := c.state.Load()
	if st == nil {
		return nil
	}
	out := make([]string, 0, len(st.flags))
	for k := range st.flags {
		out = append(out, k)
	}
	return out
}
