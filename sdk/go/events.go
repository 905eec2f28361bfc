package vane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Version is the SDK's version, sent in the User-Agent.
const Version = "0.1.0"

type outcomeKey struct{ flag, variation string }

type outcome struct{ errors, successes int64 }

// RecordSuccess reports that the code behind a flag's variation worked (for instance a request
// served without error), and RecordError that it failed: safety guards on the server compare the
// error rates and can roll a rollout back. variation is Detail.Variation.
func (c *Client) RecordSuccess(flagKey, variation string) { c.record(flagKey, variation, false) }

// RecordError reports a failure of the code behind a flag's variation (see RecordSuccess).
func (c *Client) RecordError(flagKey, variation string) { c.record(flagKey, variation, true) }

func (c *Client) record(flagKey, variation string, failed bool) {
	k := outcomeKey{flagKey, variation}
	c.mu.Lock()
	o := c.outcomes[k]
	if o == nil {
		o = &outcome{}
		c.outcomes[k] = o
	}
	if failed {
		o.errors++
	} else {
		o.successes++
	}
	c.mu.Unlock()
}

// retire keeps replaced flag states until their counts are sent.
func (c *Client) retire(fs []*flagState) {
	if len(fs) == 0 {
		return
	}
	c.mu.Lock()
	c.retired = append(c.retired, fs...)
	c.mu.Unlock()
}

func (c *Client) flushLoop() {
	t := time.NewTicker(c.cfg.EventsInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
			if err := c.flush(ctx); err != nil {
				c.log.Debug("vane: sending evaluation counts failed", "err", err)
			}
			cancel()
		}
	}
}

// metricPoint is the server's /api/v1/sdk/metrics point.
type metricPoint struct {
	FlagKey     string `json:"flag_key"`
	Variation   string `json:"variation"`
	Evaluations int64  `json:"evaluations,omitempty"`
	Errors      int64  `json:"errors,omitempty"`
	Successes   int64  `json:"successes,omitempty"`
}

// drain takes the counts gathered since the last flush.
func (c *Client) drain() []metricPoint {
	points := map[outcomeKey]*metricPoint{}
	add := func(fs *flagState) {
		for i := range fs.counts {
			if n := fs.counts[i].Swap(0); n > 0 {
				k := outcomeKey{fs.Key, fs.Variations[i].ID}
				if points[k] == nil {
					points[k] = &metricPoint{FlagKey: k.flag, Variation: k.variation}
				}
				points[k].Evaluations += n
			}
		}
	}
	c.mu.Lock()
	retired := c.retired
	c.retired = nil
	outcomes := c.outcomes
	c.outcomes = map[outcomeKey]*outcome{}
	c.mu.Unlock()
	for _, fs := range retired {
		add(fs)
	}
	if st := c.state.Load(); st != nil {
		for _, fs := range st.flags {
			add(fs)
		}
	}
	for k, o := range outcomes {
		if points[k] == nil {
			points[k] = &metricPoint{FlagKey: k.flag, Variation: k.variation}
		}
		points[k].Errors += o.errors
		points[k].Successes += o.successes
	}
	out := make([]metricPoint, 0, len(points))
	for _, p := range points {
		out = append(out, *p)
	}
	return out
}

// flush sends the gathered counts, at most 1000 points a request (the server's batch limit).
func (c *Client) flush(ctx context.Context) error {
	points := c.drain()
	if len(points) == 0 || c.noEvents.Load() {
		return nil
	}
	for len(points) > 0 {
		n := min(len(points), 1000)
		body, err := json.Marshal(map[string]any{"metrics": points[:n]})
		if err != nil {
			return err
		}
		req, err := c.request(ctx, http.MethodPost, "/api/v1/sdk/metrics", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusForbidden: // a client key: the server takes no events from it
			c.noEvents.Store(true)
			return nil
		case resp.StatusCode >= 300:
			return fmt.Errorf("POST /api/v1/sdk/metrics: HTTP %d", resp.StatusCode)
		}
		points = points[n:]
	}
	return nil
}
