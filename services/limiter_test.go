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

// TestPlacesCountMembersOnce: a set-counted limit refuses a new member once full, takes a member
// sent again without counting it twice, and a place given back after its window ended does not
// free one in the next window (in Redis, and in the process while Redis is down).
func TestPlacesCountMembersOnce(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{false, true} {
		t.Run(map[bool]string{false: "redis", true: "redis down"}[down], func(t *testing.T) {
			s, m, clk := limiterServices(t)
			ctx := context.Background()
			if down {
				m.Close()
			}
			take := func(member string) (int64, bool, *place) {
				c, ok, p, err := s.takePlace(ctx, "t:set", member, 3, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				return c.n, ok, p
			}
			_, _, early := take("early") // taken, to be given back late
			take("a")
			if n, ok, p := take("a"); !ok || n != 2 || p != nil {
				t.Fatalf("a member sent again: n=%d ok=%v place=%v, want counted once and nothing to give back", n, ok, p)
			}
			take("b")
			if n, ok, p := take("c"); ok || n != 3 || p != nil {
				t.Fatalf("a fourth member: n=%d ok=%v, want refused with nothing added", n, ok)
			}
			if n, ok, _ := take("b"); !ok || n != 3 {
				t.Fatalf("a member already in a full set: n=%d ok=%v, want let through", n, ok)
			}
			// The window ends; a new one fills; the late give-back frees nothing in it.
			if down {
				clk.Advance(time.Minute + time.Second)
			} else {
				m.FastForward(time.Minute + time.Second)
			}
			for _, k := range []string{"x", "y", "z"} {
				if _, ok, _ := take(k); !ok {
					t.Fatalf("%s refused in a new window", k)
				}
			}
			s.givePlace(ctx, early)
			if n, ok, _ := take("w"); ok || n != 3 {
				t.Fatalf("after a give-back from the last window: n=%d ok=%v, want the new window still full", n, ok)
			}
			c, err := s.peekPlaces(ctx, "t:set", "w", time.Minute)
			if err != nil || c.n != 3 || c.ttl <= 0 {
				t.Fatalf("peek = %+v, %v", c, err)
			}
			if c, _ := s.peekPlaces(ctx, "t:set", "x", time.Minute); c.n != 2 {
				t.Fatalf("peek by a member = %+v, want its own place aside", c)
			}
		})
	}
}

// TestPlaceGivenBackWhereTaken: a place taken in the process while Redis was down is given back
// there once Redis is back, not in Redis (where it would free someone else's place).
func TestPlaceGivenBackWhereTaken(t *testing.T) {
	t.Parallel()
	s, _, clk := limiterServices(t)
	ctx := context.Background()
	for _, k := range []string{"r1", "r2"} { // two members in Redis
		if _, ok, _, err := s.takePlace(ctx, "t:set", k, 3, time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	s.Auth.local.markRedisDown(clk.Now().Add(redisRetryAfter))
	_, _, local, err := s.takePlace(ctx, "t:set", "r1", 3, time.Minute) // counted locally
	if err != nil || local == nil || !local.local {
		t.Fatalf("place taken with Redis marked down: %+v, %v", local, err)
	}
	clk.Advance(redisRetryAfter) // Redis is tried again
	s.givePlace(ctx, local)
	if c, err := s.peekPlaces(ctx, "t:set", "other", time.Minute); err != nil || c.n != 2 {
		t.Fatalf("Redis holds %d members (%v) after a local give-back, want 2", c.n, err)
	}
}
