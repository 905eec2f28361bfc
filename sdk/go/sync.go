package vane

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errRefused is a response that retrying will not fix soon (a bad or revoked key).
type errRefused struct{ status int }

func (e errRefused) Error() string {
	return fmt.Sprintf("the server refused the SDK key (HTTP %d)", e.status)
}

// errNoStream is a server that does not stream (or a proxy in front that refuses to).
var errNoStream = errors.New("the server does not stream")

// sync keeps the configuration current until the client closes: the stream while it works,
// polling while it does not (and always, with Config.Polling).
func (c *Client) sync() {
	if c.cfg.Polling {
		c.poll(c.ctx, 0)
		return
	}
	backoff := time.Second
	var lostAt time.Time
	for c.ctx.Err() == nil {
		connected, err := c.stream()
		if c.ctx.Err() != nil {
			return
		}
		if connected {
			backoff = time.Second
			lostAt = time.Time{}
		}
		if lostAt.IsZero() {
			lostAt = time.Now()
		}
		var refused errRefused
		switch {
		case errors.As(err, &refused):
			c.emit(Event{Kind: EventError, Err: err})
		case errors.Is(err, errNoStream):
			c.log.Info("vane: the server does not stream; polling instead", "every", c.cfg.PollInterval)
			c.poll(c.ctx, 0)
			return
		case err != nil:
			c.log.Debug("vane: stream lost", "err", err)
		}
		// While the stream is down, a fetch keeps the configuration fresh (and makes the client
		// ready when only the stream is blocked).
		if err := c.fetch(c.ctx); err != nil {
			c.log.Debug("vane: fetch failed", "err", err)
		}
		if time.Since(lostAt) >= c.cfg.StaleAfter && c.state.Load() != nil && c.stale.CompareAndSwap(false, true) {
			c.emit(Event{Kind: EventStale, Err: err})
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: a fleet does not reconnect in step
		if backoff < 30*time.Second {
			backoff *= 2
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// poll fetches the configuration every PollInterval (If-None-Match keeps unchanged ones cheap).
func (c *Client) poll(ctx context.Context, first time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.fetch(ctx)
		var refused errRefused
		if errors.As(err, &refused) {
			c.emit(Event{Kind: EventError, Err: err})
		} else if err != nil {
			c.log.Debug("vane: fetch failed", "err", err)
		}
		t.Reset(c.cfg.PollInterval)
	}
}

func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", c.cfg.SDKKey)
	req.Header.Set("User-Agent", "vane-go-sdk/"+Version)
	return req, nil
}

// fetch gets the whole configuration (304 when the client already has its version).
func (c *Client) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := c.request(ctx, http.MethodGet, "/api/v1/sdk/config", nil)
	if err != nil {
		return err
	}
	if st := c.state.Load(); st != nil && st.cfg.Version > 0 {
		req.Header.Set("If-None-Match", `"`+strconv.FormatInt(st.cfg.Version, 10)+`"`)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		c.recovered()
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return errRefused{resp.StatusCode}
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET /api/v1/sdk/config: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	conf, err := ParseConfiguration(b)
	if err != nil {
		return err
	}
	c.install(conf)
	c.recovered()
	return nil
}

// install replaces the configuration unless the client already has a newer one.
func (c *Client) install(conf *Configuration) {
	c.installMu.Lock()
	defer c.installMu.Unlock()
	if st := c.state.Load(); st != nil && st.cfg.Version >= conf.Version && conf.Version > 0 && st.cfg.Environment == conf.Environment {
		return
	}
	c.replace(conf)
}

// recovered ends a stale period.
func (c *Client) recovered() {
	if c.stale.CompareAndSwap(true, false) {
		c.emit(Event{Kind: EventReady})
	}
}

// stream follows the server's event stream until it ends. connected says whether it opened.
func (c *Client) stream() (connected bool, err error) {
	req, err := c.request(c.ctx, http.MethodGet, "/api/v1/sdk/stream", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if st := c.state.Load(); st != nil && st.cfg.Version > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(st.cfg.Version, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return false, errRefused{resp.StatusCode}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed ||
		resp.StatusCode == http.StatusNotImplemented:
		return false, errNoStream
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("GET /api/v1/sdk/stream: HTTP %d", resp.StatusCode)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		return false, errNoStream
	}
	c.recovered()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	var event string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 {
				if err := c.handle(event, data.String()); err != nil {
					return true, err
				}
			}
			event = ""
			data.Reset()
		case strings.HasPrefix(line, ":"): // heartbeat
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(line[len("data:"):], " "))
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, io.EOF
}

// errGap ends a stream whose patch does not follow the configuration held: reconnecting brings
// the whole configuration.
var errGap = errors.New("the stream skipped a version")

// handle applies one stream event: "config" (the whole configuration) or "patch".
func (c *Client) handle(event, data string) error {
	switch event {
	case "config", "put", "":
		conf, err := ParseConfiguration([]byte(data))
		if err != nil {
			return err
		}
		c.install(conf)
	case "patch":
		var p Patch
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return fmt.Errorf("vane: read patch: %w", err)
		}
		if p.SchemaVersion > SchemaVersion {
			return fmt.Errorf("vane: patch schema %d is newer than this SDK's (%d)", p.SchemaVersion, SchemaVersion)
		}
		if st := c.state.Load(); st != nil && p.Version <= st.cfg.Version {
			return nil // already have it
		}
		if !c.patch(&p) {
			return errGap
		}
	}
	return nil
}
