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
	"github.com/vanehq/vane/internal/testenv/hangup"
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

// killRedis closes m and holds its address for the rest of the test (as testenv.KillMiniredis
// does; this package's internal tests cannot import testenv): a port merely closed could be taken
// by a parallel test's server, which would then answer.
func killRedis(t *testing.T, m *miniredis.Miniredis) {
	t.Helper()
	addr := m.Addr()
	m.Close()
	hangup.Hold(t, addr)
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
	killRedis(t, m)
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

// TestPlaceLimit: a member is checked only while the members refused and those being checked
// leave it a place; one sent again (refused, or being checked) counts once, and a retried take
// that did not add it can still settle it; what is being checked never counts against a peek; a
// check that never settles frees its place after pendingFor; and a check settled after its
// window ended frees nothing in the next one. In Redis, and in the process while Redis is down.
func TestPlaceLimit(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{false, true} {
		t.Run(map[bool]string{false: "redis", true: "redis down"}[down], func(t *testing.T) {
			s, m, clk := limiterServices(t)
			ctx := context.Background()
			if down {
				killRedis(t, m)
			}
			l := placeLimit{refused: "t:refused", pending: "t:checking", max: 3, window: time.Minute}
			advance := func(d time.Duration) {
				clk.Advance(d)
				if !down {
					m.FastForward(d)
				}
			}
			take := func(member string, wantOK bool) *place {
				t.Helper()
				_, ok, p, err := s.takePlace(ctx, l, member)
				if err != nil || ok != wantOK {
					t.Fatalf("take %s: ok=%v err=%v, want ok=%v", member, ok, err, wantOK)
				}
				return p
			}
			refused := func() int64 {
				t.Helper()
				c, err := s.peekRefused(ctx, l)
				if err != nil {
					t.Fatal(err)
				}
				return c.n
			}
			a := take("a", true)
			if again := take("a", true); again.added {
				t.Fatal("a member being checked took a second place")
			}
			s.settlePlace(ctx, a, true, false)
			s.settlePlace(ctx, take("b", true), true, false)
			valid := take("v", true)
			take("c", false) // 2 refused + 1 being checked: full
			if n := refused(); n != 2 {
				t.Fatalf("peek counts %d, want the 2 refused (not the check in flight)", n)
			}
			retried := take("v", true) // a retried command: not added, but settles all the same
			s.settlePlace(ctx, retried, false, true)
			s.settlePlace(ctx, valid, false, true)
			s.settlePlace(ctx, take("c", true), true, false)
			take("a", true) // refused before: checked again, nothing added
			take("d", false)
			if n := refused(); n != 3 {
				t.Fatalf("%d refused, want 3", n)
			}

			// A check that never settles (its process died) holds its place for pendingFor only.
			advance(time.Minute + time.Second)
			take("x", true)
			s.settlePlace(ctx, take("y", true), true, false)
			take("z", true)
			take("w", false)
			advance(pendingFor)
			late := take("w", true) // x and z gave their places up
			s.settlePlace(ctx, take("x", true), true, false)
			// The window ends with w still being checked; settled valid after, it frees nothing new.
			advance(time.Minute)
			for _, k := range []string{"r1", "r2", "r3"} {
				s.settlePlace(ctx, take(k, true), true, false)
			}
			s.settlePlace(ctx, late, false, true)
			take("q", false)
		})
	}
}

// TestPlaceSettledWhereTaken: a place taken in the process while Redis was down is settled there
// once Redis is back, not in Redis.
func TestPlaceSettledWhereTaken(t *testing.T) {
	t.Parallel()
	s, _, clk := limiterServices(t)
	ctx := context.Background()
	l := placeLimit{refused: "t:refused", pending: "t:checking", max: 3, window: time.Minute}
	for _, k := range []string{"r1", "r2"} {
		_, _, p, err := s.takePlace(ctx, l, k)
		if err != nil {
			t.Fatal(err)
		}
		s.settlePlace(ctx, p, true, false)
	}
	s.Auth.local.markRedisDown(clk.Now().Add(redisRetryAfter))
	_, _, local, err := s.takePlace(ctx, l, "r3")
	if err != nil || !local.local {
		t.Fatalf("place taken with Redis marked down: %+v, %v", local, err)
	}
	clk.Advance(redisRetryAfter) // Redis is tried again
	s.settlePlace(ctx, local, true, false)
	if c, err := s.peekRefused(ctx, l); err != nil || c.n != 2 {
		t.Fatalf("Redis holds %d refused (%v) after a local refusal, want 2", c.n, err)
	}
	if c := s.Auth.local.peekRefused(clk.Now(), l); c.n != 1 {
		t.Fatalf("the process holds %d refused, want 1", c.n)
	}
}

// TestLocalPlacesAreBounded: the in-process sets hold at most maxLocalMembers members in all; a
// member beyond is refused a place, and expired ones make room again.
func TestLocalPlacesAreBounded(t *testing.T) {
	t.Parallel()
	var lc localCounters
	now := time.Now()
	for i := 0; i < maxLocalMembers; i++ {
		l := placeLimit{refused: fmt.Sprint("r", i%5000), pending: "p", max: 60, window: time.Minute}
		if _, ok, _ := lc.takePlace(now, l, fmt.Sprint(i)); !ok {
			t.Fatalf("member %d refused", i)
		}
	}
	l := placeLimit{refused: "new", pending: "p", max: 60, window: time.Minute}
	if _, ok, _ := lc.takePlace(now, l, "one-too-many"); ok {
		t.Fatal("a member beyond the bound was let in")
	}
	if _, ok, _ := lc.takePlace(now.Add(pendingFor+time.Second), l, "later"); !ok || lc.members != 1 {
		t.Fatalf("expired members made no room: ok=%v members=%d", ok, lc.members)
	}
}
