package services

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/errs"
)

// loginLimiter counts failed logins in Redis, per login name and per client IP, in a fixed window.
// Redis (or the embedded store) is shared by every node, so the limit holds across the fleet.
type loginLimiter struct {
	rdb    *redis.Client
	prefix string
	max    int
	window time.Duration
	log    interface{ Warn(string, ...any) }
}

func (s *Services) loginLimiter() *loginLimiter {
	return &loginLimiter{rdb: s.rdb, prefix: s.cfg.RedisPrefix + "login-fail:", max: s.cfg.LoginMaxFailures,
		window: s.cfg.LoginWindow, log: s.log}
}

func (l *loginLimiter) keys(login, ip string) (string, string) {
	return l.prefix + "user:" + login, l.prefix + "ip:" + ip
}

// check refuses with 429 and Retry-After once either counter reached its limit.
func (l *loginLimiter) check(ctx context.Context, login, ip string) error {
	uk, ik := l.keys(login, ip)
	for _, c := range []struct {
		key string
		max int
	}{{uk, l.max}, {ik, l.max * 4}} {
		n, err := l.rdb.Get(ctx, c.key).Int()
		if err != nil && err != redis.Nil {
			l.log.Warn("login limiter unavailable; allowing", "err", err)
			return nil
		}
		if n >= c.max {
			ttl, _ := l.rdb.TTL(ctx, c.key).Result()
			if ttl <= 0 {
				ttl = l.window
			}
			e := errs.New(errs.RateLimited, "too many failed sign-in attempts; try again later")
			e.RetryAfter = ttl
			return e
		}
	}
	return nil
}

// fail counts one failure against the login and the IP; the window starts at the first failure.
func (l *loginLimiter) fail(ctx context.Context, login, ip string) {
	uk, ik := l.keys(login, ip)
	for _, k := range []string{uk, ik} {
		n, err := l.rdb.Incr(ctx, k).Result()
		if err != nil {
			l.log.Warn("count failed login", "err", err)
			return
		}
		if n == 1 {
			l.rdb.Expire(ctx, k, l.window)
		}
	}
}

// reset clears the login's counter after a success (the IP's keeps counting).
func (l *loginLimiter) reset(ctx context.Context, login string) {
	uk, _ := l.keys(login, "")
	l.rdb.Del(ctx, uk)
}

// rateLimit allows max calls per window for a key (a fixed window in Redis), else 429.
func (s *Services) rateLimit(ctx context.Context, key string, max int64, window time.Duration) error {
	k := s.cfg.RedisPrefix + "rate:" + key
	n, err := s.rdb.Incr(ctx, k).Result()
	if err != nil {
		s.log.Warn("rate limiter unavailable; allowing", "err", err)
		return nil
	}
	if n == 1 {
		s.rdb.Expire(ctx, k, window)
	}
	if n > max {
		ttl, _ := s.rdb.TTL(ctx, k).Result()
		if ttl <= 0 {
			ttl = window
		}
		e := errs.New(errs.RateLimited, "too many calls; try again later")
		e.RetryAfter = ttl
		return e
	}
	return nil
}
