package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/internal/testenv"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envFor is an environment on a fresh data dir (or TEST_DATABASE_URL / TEST_REDIS_URL when set).
func envFor(t *testing.T, extra map[string]string) func(string) string {
	dir := t.TempDir()
	m := map[string]string{"VANE_DATA_DIR": dir, "VANE_BCRYPT_COST": "4", "VANE_ENV": "test", "VANE_PORTAL_ADDR": "127.0.0.1:0"}
	if u := testenv.PostgresURL(); u != "" {
		// Each test needs an empty database: take a schema of its own.
		gdb, _ := testenv.OpenDB(t)
		var schema string
		gdb.Raw("SELECT current_schema()").Scan(&schema)
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		m["DATABASE_URL"] = u + sep + "search_path=" + schema
	}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	getenv := envFor(t, nil)
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"version"}, getenv, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "vane ") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	if err := run(ctx, []string{"fly"}, getenv, &out, &errb); err == nil {
		t.Error("an unknown command succeeded")
	}
	if err := run(ctx, nil, getenv, &out, &errb); err == nil || !strings.Contains(errb.String(), "usage") {
		t.Error("no command printed no usage")
	}
	steps := [][]string{
		{"migrate", "up"},
		{"migrate", "status"},
		{"migrate", "down"},
		{"migrate", "up"},
		{"admin", "create-user", "--email", "ops@example.test", "--password", "long-enough", "--username", "ops"},
		{"admin", "create-org", "--slug", "ops-team", "--admin", "ops"},
		{"admin", "set-password", "--user", "ops@example.test", "--password", "another-long-one"},
	}
	for _, args := range steps {
		out.Reset()
		if err := run(ctx, args, getenv, &out, &errb); err != nil {
			t.Fatalf("vane %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		if args[1] == "status" && !strings.Contains(out.String(), "applied") {
			t.Errorf("migrate status = %q", out.String())
		}
	}
	if err := run(ctx, []string{"admin", "create-user", "--email", "bad", "--password", "x"}, getenv, &out, &errb); err == nil {
		t.Error("create-user accepted a bad email and password")
	}
}

func TestProductionRefusesToStartWithoutSecrets(t *testing.T) {
	err := run(context.Background(), []string{"serve"}, envFor(t, map[string]string{"VANE_ENV": "production", "DATABASE_URL": ""}), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "VANE_JWT_SECRET") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("production serve without secrets = %v", err)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// TestServeBootstrapsAndShutsDown starts `vane serve` for real, signs in with the logged password,
// and stops it as SIGTERM would.
func TestServeBootstrapsAndShutsDown(t *testing.T) {
	addr := freePort(t)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := envFor(t, map[string]string{"VANE_ADDR": addr})
	go func() { done <- run(ctx, []string{"serve"}, getenv, &bytes.Buffer{}, &logs) }()

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not become ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`password=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		cancel()
		t.Fatalf("no generated password in the logs:\n%s", logs.String())
	}
	body := fmt.Sprintf(`{"username":"admin","password":%q}`, m[1])
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 200 {
		cancel()
		t.Fatalf("login with the logged password = %v, %v", res, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	_ = res.Body.Close()
	if tok.AccessToken == "" {
		t.Error("no access token")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v on shutdown", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("no shutdown log:\n%s", logs.String())
	}
	// A second start on the same database does not bootstrap again.
	logs2 := &syncBuffer{}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- run(ctx2, []string{"serve"}, getenv, &bytes.Buffer{}, logs2) }()
	for time.Now().Before(deadline.Add(20 * time.Second)) {
		if strings.Contains(logs2.String(), "vane is serving") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel2()
	<-done2
	if strings.Contains(logs2.String(), "password=") || !strings.Contains(logs2.String(), "vane is serving") {
		t.Errorf("second start logs:\n%s", logs2.String())
	}
}
