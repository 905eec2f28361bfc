package services

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/errs"
)

// count is one counter's value and the time left in its window.
type count struct {
	n   int64
	ttl time.Duration
}

// countersScript reads counters (ARGV[2] = "0"), adds one to each ("1") or takes one back from
// each that is above zero ("-1") and, in the same step, starts the window (ARGV[1] milliseconds) of
// any counter that has none. Because INCR and PEXPIRE cannot be separated by a failure, no counter
// is ever left without a TTL (which would refuse its caller forever). It returns the count and
// milliseconds left of each key.
var countersScript = redis.NewScript(`
local out = {}
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if ARGV[2] == '1' then
    n = redis.call('INCR', k)
  elseif ARGV[2] == '-1' and n > 0 then
    n = redis.call('DECR', k)
  end
  local ttl = redis.call('PTTL', k)
  if n > 0 and ttl < 0 then
    redis.call('PEXPIRE', k, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out`)

// redisRetryAfter is how long the counters stay in this process after Redis failed, so that an
// outage does not cost every request Redis's connection retries.
const redisRetryAfter = 5 * time.Second

// runCounters runs countersScript on Redis, or on the in-process counters when Redis cannot be
// reached, so limits still hold (per node) during an outage instead of letting everything through.
func (s *Services) runCounters(ctx context.Context, step int, window time.Duration, keys []string) ([]count, error) {
	now := s.clock.Now()
	if !s.Auth.local.redisDown(now) {
		mode := strconv.Itoa(step)
		res, err := countersScript.Run(ctx, s.rdb, keys, window.Milliseconds(), mode).Int64Slice()
		if err == nil && len(res) == 2*len(keys) {
			out := make([]count, len(keys))
			for i := range out {
				out[i] = count{n: res[2*i], ttl: time.Duration(res[2*i+1]) * time.Millisecond}
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.WarnContext(ctx, "rate-limit counters unavailable in Redis; counting in this process", "err", err)
		s.Auth.local.markRedisDown(now.Add(redisRetryAfter))
	}
	return s.Auth.local.run(now, step, window, keys), nil
}

// countUp adds one to each counter and returns the new counts.
func (s *Services) countUp(ctx context.Context, window time.Duration, keys ...string) ([]count, error) {
	return s.runCounters(ctx, 1, window, keys)
}

// countDown takes one back from each counter above zero.
func (s *Services) countDown(ctx context.Context, window time.Duration, keys ...string) error {
	_, err := s.runCounters(ctx, -1, window, keys)
	return err
}

// peekCounts returns the counters without changing them.
func (s *Services) peekCounts(ctx context.Context, window time.Duration, keys ...string) ([]count, error) {
	return s.runCounters(ctx, 0, window, keys)
}

// clientKey is the part of a client address a limit counts by: the address itself for IPv4, its
// /64 for IPv6 (one subscriber's usual allocation, which would otherwise offer endless addresses).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// resetCounts forgets counters (in Redis and in this process).
func (s *Services) resetCounts(ctx context.Context, keys ...string) {
	if !s.Auth.local.redisDown(s.clock.Now()) {
		if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
			s.log.WarnContext(ctx, "reset rate-limit counters", "err", err)
		}
	}
	s.Auth.local.forget(keys)
}

// limitPerIP is limit keyed by the client IP. A call that came without one (not over HTTP: the
// admin CLI, tests calling services directly) has no per-IP limit.
func (s *Services) limitPerIP(ctx context.Context, name, ip string, max int64, window time.Duration, msg string) error {
	if ip == "" {
		return nil
	}
	return s.limit(ctx, name+":ip:"+clientKey(ip), max, window, msg)
}

// tooMany is the 429 of a limit whose window has retryAfter left.
func tooMany(msg string, retryAfter, window time.Duration) error {
	if retryAfter <= 0 {
		retryAfter = window
	}
	e := errs.New(errs.RateLimited, "%s", msg)
	e.RetryAfter = retryAfter
	return e
}

// rateLimit allows max calls per window for a key (a fixed window, counted in Redis so the limit
// holds across nodes, or in this process while Redis is down), else 429 with Retry-After.
func (s *Services) rateLimit(ctx context.Context, key string, max int64, window time.Duration) error {
	return s.limit(ctx, key, max, window, "too many calls; try again later")
}

// limit is rateLimit with the message the client reads when refused.
func (s *Services) limit(ctx context.Context, key string, max int64, window time.Duration, msg string) error {
	c, err := s.countUp(ctx, window, s.cfg.RedisPrefix+"rate:"+key)
	if err != nil {
		return err
	}
	if c[0].n > max {
		return tooMany(msg, c[0].ttl, window)
	}
	return nil
}

// loginLimits are the three counters of sign-in attempts, each in a window of VANE_LOGIN_WINDOW:
// per account and client IP (VANE_LOGIN_MAX_FAILURES: one client guessing one account is
// stopped without locking the owner out elsewhere), per account (VANE_LOGIN_ACCOUNT_MAX_FAILURES:
// guessing spread over many addresses; not applied from an address the account signed in from
// before, so strangers cannot lock its owner out), and per client IP (VANE_LOGIN_IP_MAX_FAILURES:
// one client trying many accounts; high enough for an office behind one NAT). Each attempt is
// counted before the password is checked — a burst of parallel guesses is refused, not let
// through while the counters lag — and a successful one is taken back.
type loginLimits struct {
	s      *Services
	keys   []string // account and IP, account, IP
	max    []int64
	known  string // the "signed in from here before" marker of this account and client
	window time.Duration
}

// knownClientFor is how long a successful sign-in makes its client known to the account.
const knownClientFor = 30 * 24 * time.Hour

// loginLimits counts for subject, the account ("user:" and its id) or, when no account has that
// login, the normalised login itself, so known and unknown logins are limited alike.
func (s *Services) loginLimits(subject, ip string) loginLimits {
	p := s.cfg.RedisPrefix + "login-fail:"
	client := clientKey(ip)
	return loginLimits{s: s, window: s.cfg.LoginWindow, known: s.cfg.RedisPrefix + "login-known:" + subject + "|" + client,
		keys: []string{p + "account-ip:" + subject + "|" + client, p + "account:" + subject, p + "ip:" + client},
		max:  []int64{int64(s.cfg.LoginMaxFailures), int64(s.cfg.LoginAccountMaxFailures), int64(s.cfg.LoginIPMaxFailures)}}
}

// begin counts one attempt on every counter that applies and refuses with 429 and Retry-After
// when any of them went over its limit.
func (l loginLimits) begin(ctx context.Context) error {
	known, err := l.s.peekCounts(ctx, knownClientFor, l.known)
	if err != nil {
		return err
	}
	keys, limits := l.keys, l.max
	if known[0].n > 0 { // the owner's own client: the per-account total does not stop it
		keys, limits = []string{l.keys[0], l.keys[2]}, []int64{l.max[0], l.max[2]}
	}
	cs, err := l.s.countUp(ctx, l.window, keys...)
	if err != nil {
		return err
	}
	var wait time.Duration
	blocked := false
	for i, c := range cs {
		if c.n > limits[i] {
			blocked = true
			wait = max(wait, c.ttl)
		}
	}
	if blocked {
		// A refused attempt guessed nothing: it does not count against anyone's budget.
		if err := l.s.countDown(ctx, l.window, keys...); err != nil {
			l.s.log.WarnContext(ctx, "take back a refused sign-in", "err", err)
		}
		return tooMany("too many failed sign-in attempts; try again later", wait, l.window)
	}
	return nil
}

// succeed forgets the account's failures from this client, takes this attempt back from the
// account's and the IP's totals (their earlier failures keep counting until their window ends, so
// a correct password does not buy a guesser a fresh budget), and remembers the client as known.
func (l loginLimits) succeed(ctx context.Context) {
	l.s.resetCounts(ctx, l.keys[0])
	if err := l.s.countDown(ctx, l.window, l.keys[1], l.keys[2]); err != nil {
		l.s.log.WarnContext(ctx, "take back a successful sign-in", "err", err)
	}
	if _, err := l.s.countUp(ctx, knownClientFor, l.known); err != nil {
		l.s.log.WarnContext(ctx, "remember a sign-in client", "err", err)
	}
}

// maxLocalCounters bounds the in-process counters. When that many live counters exist, a new key
// counts as over every limit (it cannot be tracked), so flooding keys cannot reset anyone's count.
const maxLocalCounters = 100_000

// localCounters are fixed-window counters kept in this process, used while Redis cannot be
// reached. The zero value is ready to use.
type localCounters struct {
	mu        sync.Mutex
	m         map[string]localCount
	downUntil time.Time // Redis is not tried again before this
	swept     time.Time // when a full map was last swept for expired counters
	sets      map[string]*localSet
	setsSwept time.Time
}

type localCount struct {
	n     int64
	until time.Time
}

// run counts keys up or down by step (or only reads them) at now, as countersScript does.
func (l *localCounters) run(now time.Time, step int, window time.Duration, keys []string) []count {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]localCount{}
	}
	out := make([]count, len(keys))
	for i, k := range keys {
		c, ok := l.m[k]
		if ok && !now.Before(c.until) {
			delete(l.m, k)
			c, ok = localCount{}, false
		}
		switch {
		case step > 0 && !ok && !l.room(now):
			out[i] = count{n: math.MaxInt64, ttl: window} // cannot be tracked: over every limit
			continue
		case step > 0:
			if !ok {
				c.until = now.Add(window)
			}
			c.n++
			l.m[k] = c
		case step < 0 && c.n > 0:
			c.n--
			l.m[k] = c
		}
		if c.n > 0 {
			out[i] = count{n: c.n, ttl: c.until.Sub(now)}
		}
	}
	return out
}

// room reports whether another counter fits, dropping expired ones when the map is full (at most
// once a second: a flood of new keys must not make every caller wait on a sweep).
func (l *localCounters) room(now time.Time) bool {
	if len(l.m) < maxLocalCounters {
		return true
	}
	if now.Sub(l.swept) < time.Second {
		return false
	}
	l.swept = now
	for k, c := range l.m {
		if !now.Before(c.until) {
			delete(l.m, k)
		}
	}
	return len(l.m) < maxLocalCounters
}

// redisDown reports whether Redis failed less than redisRetryAfter ago.
func (l *localCounters) redisDown(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return now.Before(l.downUntil)
}

// markRedisDown keeps the counters in this process until until.
func (l *localCounters) markRedisDown(until time.Time) {
	l.mu.Lock()
	l.downUntil = until
	l.mu.Unlock()
}

// forget deletes keys.
func (l *localCounters) forget(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

// Limits on distinct things (the API keys refused to one address) count the members of a set:
// a member is added before the thing is checked, so parallel checks cannot overshoot, and added
// again (by a retried command, or the same key sent twice) it counts once. A member that turns out
// not to count (a valid key) is taken out of the set it went into, which a window that ended since
// no longer holds: giving back never frees a place in a later window.

// takePlaceScript adds ARGV[2] to the set KEYS[1] unless it holds ARGV[3] members already (then
// it refuses, adding nothing), starting the window (ARGV[1] milliseconds) of a new set. It returns
// the members counted, the milliseconds left, whether the member is in the set (1) and whether
// this call added it (1).
var takePlaceScript = redis.NewScript(`
local n = redis.call('SCARD', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then
  return {n, ttl, 1, 0}
end
if n >= tonumber(ARGV[3]) then
  return {n, ttl, 0, 0}
end
redis.call('SADD', KEYS[1], ARGV[2])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n + 1, ttl, 1, 1}`)

// peekPlacesScript returns a set's members other than ARGV[1] and the milliseconds left in its
// window.
var peekPlacesScript = redis.NewScript(`
return {redis.call('SCARD', KEYS[1]) - redis.call('SISMEMBER', KEYS[1], ARGV[1]), redis.call('PTTL', KEYS[1])}`)

// place is a member a call added to a set-counted limit, and where (Redis or this process).
type place struct {
	key, member string
	local       bool
}

// takePlace adds member to the set key unless it is full (max members); ok says whether the
// member is in it. The place is non-nil when this call added the member: give it back with
// givePlace if it should not count.
func (s *Services) takePlace(ctx context.Context, key, member string, max int64, window time.Duration) (c count, ok bool, p *place, err error) {
	now := s.clock.Now()
	if !s.Auth.local.redisDown(now) {
		res, err := takePlaceScript.Run(ctx, s.rdb, []string{key}, window.Milliseconds(), member, max).Int64Slice()
		if err == nil && len(res) == 4 {
			c = count{n: res[0], ttl: time.Duration(res[1]) * time.Millisecond}
			if res[3] == 1 {
				p = &place{key: key, member: member}
			}
			return c, res[2] == 1, p, nil
		}
		if ctx.Err() != nil {
			return count{}, false, nil, ctx.Err()
		}
		s.log.WarnContext(ctx, "rate-limit counters unavailable in Redis; counting in this process", "err", err)
		s.Auth.local.markRedisDown(now.Add(redisRetryAfter))
	}
	c, ok, added := s.Auth.local.takePlace(now, key, member, max, window)
	if added {
		p = &place{key: key, member: member, local: true}
	}
	return c, ok, p, nil
}

// peekPlaces returns how many members other than member (whose own place, if it has one, is not
// held against it) a set-counted limit holds, and the time left in its window.
func (s *Services) peekPlaces(ctx context.Context, key, member string, window time.Duration) (count, error) {
	now := s.clock.Now()
	if !s.Auth.local.redisDown(now) {
		res, err := peekPlacesScript.Run(ctx, s.rdb, []string{key}, member).Int64Slice()
		if err == nil && len(res) == 2 {
			return count{n: res[0], ttl: time.Duration(res[1]) * time.Millisecond}, nil
		}
		if ctx.Err() != nil {
			return count{}, ctx.Err()
		}
		s.log.WarnContext(ctx, "rate-limit counters unavailable in Redis; counting in this process", "err", err)
		s.Auth.local.markRedisDown(now.Add(redisRetryAfter))
	}
	return s.Auth.local.peekPlaces(now, key, member), nil
}

// givePlace takes a member back out of the set it was added to, where it was added (a set of
// Redis is not given back to this process's, nor the reverse). If Redis cannot be reached the
// member stays, counted, until its window ends.
func (s *Services) givePlace(ctx context.Context, p *place) {
	if p == nil {
		return
	}
	if p.local {
		s.Auth.local.givePlace(p.key, p.member)
		return
	}
	if err := s.rdb.SRem(context.WithoutCancel(ctx), p.key, p.member).Err(); err != nil {
		s.log.WarnContext(ctx, "give back a place under a limit; it counts until its window ends", "err", err)
	}
}

// localSet is a set-counted limit kept in this process.
type localSet struct {
	members map[string]struct{}
	until   time.Time
}

// takePlace is takePlaceScript in this process.
func (l *localCounters) takePlace(now time.Time, key, member string, max int64, window time.Duration) (c count, ok, added bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.liveSet(now, key)
	if set == nil {
		if !l.roomForSet(now) {
			return count{n: math.MaxInt64, ttl: window}, false, false // cannot be tracked: full
		}
		if l.sets == nil {
			l.sets = map[string]*localSet{}
		}
		set = &localSet{members: map[string]struct{}{}, until: now.Add(window)}
		l.sets[key] = set
	}
	n := int64(len(set.members))
	if _, in := set.members[member]; in {
		return count{n: n, ttl: set.until.Sub(now)}, true, false
	}
	if n >= max {
		return count{n: n, ttl: set.until.Sub(now)}, false, false
	}
	set.members[member] = struct{}{}
	return count{n: n + 1, ttl: set.until.Sub(now)}, true, true
}

// peekPlaces is peekPlacesScript in this process.
func (l *localCounters) peekPlaces(now time.Time, key, member string) count {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.liveSet(now, key)
	if set == nil {
		return count{}
	}
	n := int64(len(set.members))
	if _, in := set.members[member]; in {
		n--
	}
	return count{n: n, ttl: set.until.Sub(now)}
}

// givePlace takes a member out of a set of this process.
func (l *localCounters) givePlace(key, member string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if set := l.sets[key]; set != nil {
		delete(set.members, member)
	}
}

// liveSet returns the set under key if its window has not ended (dropping it if it has).
func (l *localCounters) liveSet(now time.Time, key string) *localSet {
	set := l.sets[key]
	if set != nil && !now.Before(set.until) {
		delete(l.sets, key)
		return nil
	}
	return set
}

// roomForSet reports whether another set fits, dropping ended ones when full (at most once a
// second, as room does).
func (l *localCounters) roomForSet(now time.Time) bool {
	if len(l.sets) < maxLocalCounters {
		return true
	}
	if now.Sub(l.setsSwept) < time.Second {
		return false
	}
	l.setsSwept = now
	for k, set := range l.sets {
		if !now.Before(set.until) {
			delete(l.sets, k)
		}
	}
	return len(l.sets) < maxLocalCounters
}
