package services

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/errs"
)

// limiterServices are services with only what rateLimit needs: Redis (miniredis) and a fake clock.
func limiterServices(t *testing.T) (*Services, *miniredis.Miniredis, *clock.Fake) {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	clk := clock.NewFake(time.Now())
	cfg := &config.Config{RedisPrefix: "t:", BcryptCost: 4, JWTSecret: []byte("test-secret-test-secret-test-secret-0123456789")}
	return New(Deps{Redis: rdb, Config: cfg, Clock: clk}), m, clk
}

// allowed calls rateLimit and says whether it let the call through, failing on anything but a 429.
func allowed(t *testing.T, s *Services, key string, max int64, window time.Duration) bool {
	t.Helper()
	err := s.rateLimit(context.Background(), key, max, window)
	if err == nil {
		return true
	}
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.RateLimited || e.RetryAfter <= 0 || e.RetryAfter > window {
		t.Fatalf("rateLimit(%q) = %v, want nil or 429 with Retry-After within %v", key, err, window)
	}
	return false
}

// TestRateLimitInRedis: max calls per window, then 429 until the window ends. A counter left
// without a TTL (as INCR followed by a failed EXPIRE used to leave it) gets its window from the
// next call instead of refusing forever.
func TestRateLimitInRedis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		preset  string // the counter's value before the first call, without a TTL ("" for none)
		allowed int
	}{
		{"a fresh counter", "", 3},
		{"a counter left without a TTL", "50", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, m, _ := limiterServices(t)
			if tc.preset != "" {
				if err := m.Set("t:rate:k", tc.preset); err != nil {
					t.Fatal(err)
				}
			}
			for i := 1; i <= tc.allowed+1; i++ {
				if got, want := allowed(t, s, "k", 3, time.Minute), i <= tc.allowed; got != want {
					t.Fatalf("call %d: allowed = %v, want %v", i, got, want)
				}
			}
			if ttl := m.TTL("t:rate:k"); ttl <= 0 || ttl > time.Minute {
				t.Errorf("counter TTL = %v, want within the 1m window", ttl)
			}
			m.FastForward(time.Minute + time.Second)
			if !allowed(t, s, "k", 3, time.Minute) {
				t.Error("the next window refused the first call: a permanent 429")
			}
		})
	}
}

// TestRateLimitWithoutRedis: with Redis unreachable the limit is counted in the process by Vane's
// clock, instead of letting every call through.
func TestRateLimitWithoutRedis(t *testing.T) {
	t.Parallel()
	s, m, clk := limiterServices(t)
	m.Close()
	for i := 1; i <= 3; i++ {
		if got, want := allowed(t, s, "down", 2, time.Minute), i <= 2; got != want {
			t.Fatalf("call %d with Redis down: allowed = %v, want %v", i, got, want)
		}
	}
	if !allowed(t, s, "other", 2, time.Minute) {
		t.Error("another key was refused")
	}
	clk.Advance(time.Minute)
	if !allowed(t, s, "down", 2, time.Minute) {
		t.Error("the next window refused the first call")
	}
}

// TestLocalCountersAreBounded: the in-process counters never hold more than maxLocalCounters; a
// new key that does not fit counts as over the limit, and expired ones make room again.
func TestLocalCountersAreBounded(t *testing.T) {
	t.Parallel()
	var l localCounters
	now := time.Now()
	for i := 0; i < maxLocalCounters; i++ {
		l.run(now, 1, time.Minute, []string{fmt.Sprint(i)})
	}
	if c := l.run(now, 1, time.Minute, []string{"one-too-many"}); c[0].n <= 1000 {
		t.Errorf("a key beyond the bound counted %d, want over any limit", c[0].n)
	}
	if c := l.run(now, 1, time.Minute, []string{"7"}); c[0].n != 2 {
		t.Errorf("a tracked key counted %d, want 2", c[0].n)
	}
	if n := len(l.m); n != maxLocalCounters {
		t.Errorf("%d counters kept, want %d", n, maxLocalCounters)
	}
	later := now.Add(time.Minute)
	if c := l.run(later, 1, time.Minute, []string{"one-too-many"}); c[0].n != 1 || c[0].ttl != time.Minute {
		t.Errorf("after the window a new key counted %+v, want 1 with the whole window", c[0])
	}
	if n := len(l.m); n != 1 {
		t.Errorf("%d counters kept after every window ended, want 1", n)
	}
}
