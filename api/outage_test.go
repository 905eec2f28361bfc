package api_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/testenv"
)

// cuttableProxy forwards TCP connections to a target until Cut, which closes its listener and
// every open connection; Restore listens again on the same address.
type cuttableProxy struct {
	t      testing.TB
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newCuttableProxy(t testing.TB, target string) *cuttableProxy {
	t.Helper()
	p := &cuttableProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *cuttableProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					_ = pair[0].Close()
					_ = pair[1].Close()
				}()
			}
		}
	}()
}

// Cut refuses new connections and drops the open ones, as a database that went away would.
func (p *cuttableProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Restore accepts connections again on the same address.
func (p *cuttableProxy) Restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestEvaluationSurvivesPostgresOutage is the data plane's promise: with Postgres unreachable for
// over a minute, evaluation (REST and OFREP, with a server key and with a client key never used
// before the outage), /sdk/config and an open stream keep serving the last configuration, and
// unknown keys are still refused from memory. It runs only against real Postgres
// (TEST_DATABASE_URL) and takes a little over 60 s.
func TestEvaluationSurvivesPostgresOutage(t *testing.T) {
	base := testenv.PostgresURL()
	if base == "" {
		t.Skip("needs TEST_DATABASE_URL (real Postgres)")
	}
	if testing.Short() {
		t.Skip("a 60 s outage")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttableProxy(t, u.Host)
	u.Host = proxy.addr
	gdb, dialect := testenv.OpenPostgresVia(t, base, u.String())
	if _, err := db.MigrateUp(context.Background(), gdb, dialect); err != nil {
		t.Fatal(err)
	}
	r := testenv.OpenRedis(t)
	env := testenv.Start(t, gdb, dialect, r, testenv.Config(t, r.Prefix), clock.NewFake(time.Now()))
	s := serverOn(t, env)
	a := s.newTenant("acme")
	server, client := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("PATCH", flags+"/checkout/environments/production",
		`{"status":"ACTIVE","rules":[{"id":"pro","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]}],"serve":{"variation":"true"}}],"fallthrough":{"variation":"false"}}`,
		"auth", a.dev).want(t, 200)
	if e := s.evaluate("checkout", server, `{"user_id":"u1","attributes":{"plan":"pro"}}`); !e.Enabled {
		t.Fatalf("before the outage: %+v", e)
	}

	// An SDK connected to the stream before the outage.
	ts := httptest.NewServer(s.router)
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/sdk/stream", nil)
	req.Header.Set("X-API-Key", server)
	streamCtx, endStream := context.WithCancel(context.Background())
	defer endStream()
	resp, err := http.DefaultClient.Do(req.WithContext(streamCtx))
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	streamEnded := make(chan error, 1)
	firstEvent := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				select {
				case firstEvent <- sc.Text():
				default:
				}
			}
		}
		streamEnded <- errors.Join(sc.Err(), io.EOF)
	}()
	select {
	case <-firstEvent:
	case <-time.After(10 * time.Second):
		t.Fatal("no first stream event")
	}

	proxy.Cut()
	sqlDB, _ := gdb.DB()
	if err := sqlDB.PingContext(context.Background()); err == nil {
		t.Fatal("the database still answers through the cut proxy")
	}
	// Management answers 503 with Retry-After, never 500; /readyz names the database.
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", flags + "/checkout/environments/production", `{"enabled":false}`},
		{"POST", flags, `{"key":"during-outage"}`},
		{"GET", flags, ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := s.req(c.method, c.path, body, "auth", a.dev)
		if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s during the outage = %d (Retry-After %q) %s, want 503 with Retry-After", c.method, c.path, r.Code, r.Header.Get("Retry-After"), r.Body)
		}
	}
	ready := s.req("GET", "/readyz", nil).want(t, http.StatusServiceUnavailable).JSON()
	if checks, _ := ready["checks"].(map[string]any); checks["database"] != "unreachable" || checks["redis"] != "ok" {
		t.Errorf("/readyz during the outage = %v, want the database named", ready)
	}

	outage := 62 * time.Second
	start := time.Now()
	checks := 0
	for time.Since(start) < outage {
		for _, c := range []struct {
			name, key, body string
			enabled         bool
		}{
			{"server key, rule", server, `{"user_id":"u1","attributes":{"plan":"pro"}}`, true},
			{"server key, fallthrough", server, `{"user_id":"u2","attributes":{"plan":"free"}}`, false},
			{"client key first used now", client, `{"user_id":"u3","attributes":{"plan":"pro"}}`, true},
		} {
			e := decode[struct {
				Enabled bool   `json:"enabled"`
				Reason  string `json:"reason"`
			}](t, s.req("POST", "/api/v1/feature-flags/checkout/evaluate", c.body, "X-API-Key", c.key).want(t, 200))
			if e.Enabled != c.enabled {
				t.Fatalf("%s after %v of outage: %+v, want enabled %v", c.name, time.Since(start), e, c.enabled)
			}
		}
		o := s.req("POST", "/ofrep/v1/evaluate/flags/checkout", `{"context":{"targetingKey":"u4","plan":"pro"}}`, "X-API-Key", client).want(t, 200).JSON()
		if o["value"] != true || o["reason"] != "TARGETING_MATCH" {
			t.Fatalf("OFREP after %v of outage: %v", time.Since(start), o)
		}
		s.req("POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u4"}}`, "X-API-Key", client).want(t, 200)
		if cfg := s.req("GET", "/api/v1/sdk/config", nil, "X-API-Key", server).want(t, 200); !strings.Contains(string(cfg.Body), `"checkout"`) {
			t.Fatalf("/sdk/config after %v of outage: %s", time.Since(start), cfg.Body)
		}
		s.req("POST", "/api/v1/feature-flags/checkout/evaluate", `{"user_id":"u"}`, "X-API-Key", "srv-never-issued").want(t, 401)
		select {
		case err := <-streamEnded:
			t.Fatalf("the stream ended after %v of outage: %v", time.Since(start), err)
		default:
		}
		checks++
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d rounds of checks over %v of outage, all served", checks, time.Since(start).Round(time.Second))

	// The database comes back: writes work again and reach the evaluations.
	proxy.Restore()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.req("PATCH", flags+"/checkout/environments/production", `{"enabled":false}`, "auth", a.dev)
		if r.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write after the outage: %d %s", r.Code, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if e := s.evaluate("checkout", server, `{"user_id":"u1","attributes":{"plan":"pro"}}`); e.Enabled {
		t.Errorf("after the outage the kill switch is not served: %+v", e)
	}
}
