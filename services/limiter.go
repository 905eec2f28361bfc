package services

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"strings"
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
	downUntil time.Time               // Redis is not tried again before this
	swept     time.Time               // when a full map was last swept for expired counters
	sets      map[string]*localPlaces // placeLimit sets, by the refused set's key
	members   int                     // members of all sets
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

// Limits on distinct refusals (the API keys refused to one address) keep two sets per subject: the
// members refused in the window, and the members being checked right now (each for at most
// pendingFor, should its checker die). A member is checked only if both together leave it a
// place, in one atomic step, so parallel checks cannot overshoot; it then moves to the refused set
// or leaves. What is let in on trust (a key cached as valid) reads only the refused set, so
// checks in flight never refuse it. A member sent again counts once, whether refused or in
// flight, and a retried command cannot add it twice.

// pendingFor bounds how long a check holds its place, should the process checking it die.
const pendingFor = 15 * time.Second

// takePlaceScript: KEYS[1] the refused set, KEYS[2] the pending sorted set (member → expiry in
// ms); ARGV[1] the member, ARGV[2] the most members, ARGV[3] now in ms, ARGV[4] pendingFor in ms.
// It returns the members refused, the refused set's milliseconds left, whether the member may be
// checked (1), and whether this call made it pending (1).
var takePlaceScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local r = redis.call('SCARD', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 or redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {r, ttl, 1, 0}
end
if r + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return {r, ttl, 0, 0}
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {r, ttl, 1, 1}`)

// settlePlaceScript ends a member's check: KEYS as takePlaceScript; ARGV[1] the member,
// ARGV[2] "1" if it was refused (it joins the refused set, starting its window of ARGV[3] ms if
// new), else "0".
var settlePlaceScript = redis.NewScript(`
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[1], ARGV[1])
  if redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
end
return 1`)

// peekRefusedScript returns how many members the refused set holds and its milliseconds left.
var peekRefusedScript = redis.NewScript(`return {redis.call('SCARD', KEYS[1]), redis.call('PTTL', KEYS[1])}`)

// placeLimit names one subject's sets (in Redis, and in this process while Redis is down).
type placeLimit struct {
	refused, pending string
	max              int64
	window           time.Duration
}

// place is a member's check under a placeLimit: where it was let in (Redis or this process), and
// whether this call made it pending.
type place struct {
	limit  placeLimit
	member string
	local  bool
	added  bool
}

// takePlace lets member be checked if the limit leaves it a place (ok), making it pending; the
// count is of members refused. Settle the place with settlePlace once the check is decided.
func (s *Services) takePlace(ctx context.Context, l placeLimit, member string) (c count, ok bool, p *place, err error) {
	now := s.clock.Now()
	if !s.Auth.local.redisDown(now) {
		res, err := takePlaceScript.Run(ctx, s.rdb, []string{l.refused, l.pending}, member, l.max, now.UnixMilli(),
			pendingFor.Milliseconds()).Int64Slice()
		if err == nil && len(res) == 4 {
			c = count{n: res[0], ttl: time.Duration(res[1]) * time.Millisecond}
			return c, res[2] == 1, &place{limit: l, member: member, added: res[3] == 1}, nil
		}
		if ctx.Err() != nil {
			return count{}, false, nil, ctx.Err()
		}
		s.log.WarnContext(ctx, "rate-limit counters unavailable in Redis; counting in this process", "err", err)
		s.Auth.local.markRedisDown(now.Add(redisRetryAfter))
	}
	c, ok, added := s.Auth.local.takePlace(now, l, member)
	return c, ok, &place{limit: l, member: member, local: true, added: added}, nil
}

// settlePlace ends a check where its place was taken: refused, the member joins the refused
// set; valid, it leaves the pending set (even if a retried command or another request made it
// pending: a valid member never waits there); undecided (a dependency failed), it leaves only if
// this call made it pending. If Redis cannot be reached a pending member waits out pendingFor.
func (s *Services) settlePlace(ctx context.Context, p *place, refused, valid bool) {
	if p == nil || (!refused && !valid && !p.added) {
		return
	}
	if p.local {
		s.Auth.local.settlePlace(s.clock.Now(), p.limit, p.member, refused)
		return
	}
	if s.Auth.local.redisDown(s.clock.Now()) {
		return
	}
	mode := "0"
	if refused {
		mode = "1"
	}
	err := settlePlaceScript.Run(context.WithoutCancel(ctx), s.rdb, []string{p.limit.refused, p.limit.pending}, p.member, mode,
		p.limit.window.Milliseconds()).Err()
	if err != nil {
		s.log.WarnContext(ctx, "settle a checked key under its limit", "err", err)
	}
}

// peekRefused returns how many members a limit refused in its window, and the time left.
func (s *Services) peekRefused(ctx context.Context, l placeLimit) (count, error) {
	now := s.clock.Now()
	if !s.Auth.local.redisDown(now) {
		res, err := peekRefusedScript.Run(ctx, s.rdb, []string{l.refused}).Int64Slice()
		if err == nil && len(res) == 2 {
			return count{n: res[0], ttl: time.Duration(res[1]) * time.Millisecond}, nil
		}
		if ctx.Err() != nil {
			return count{}, ctx.Err()
		}
		s.log.WarnContext(ctx, "rate-limit counters unavailable in Redis; counting in this process", "err", err)
		s.Auth.local.markRedisDown(now.Add(redisRetryAfter))
	}
	return s.Auth.local.peekRefused(now, l), nil
}

// maxLocalMembers bounds the members of the in-process sets, all subjects together. Past it, a
// member that does not fit is refused a place (it cannot be tracked), as a new counter is.
const maxLocalMembers = 100_000

// localPlaces is a placeLimit's sets in this process.
type localPlaces struct {
	refused      map[string]struct{}
	refusedUntil time.Time
	pending      map[string]time.Time
}

func (lp *localPlaces) size() int { return len(lp.refused) + len(lp.pending) }

// places returns the live sets of a subject, dropping what expired; nil if there are none.
func (l *localCounters) places(now time.Time, key string) *localPlaces {
	lp := l.sets[key]
	if lp == nil {
		return nil
	}
	before := lp.size()
	if lp.refused != nil && !now.Before(lp.refusedUntil) {
		lp.refused = nil
	}
	for m, until := range lp.pending {
		if !now.Before(until) {
			delete(lp.pending, m)
		}
	}
	l.members -= before - lp.size()
	if lp.size() == 0 {
		delete(l.sets, key)
		return nil
	}
	return lp
}

// takePlace is takePlaceScript in this process.
func (l *localCounters) takePlace(now time.Time, pl placeLimit, member string) (c count, ok, added bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lp := l.places(now, pl.refused)
	if lp != nil {
		c = count{n: int64(len(lp.refused)), ttl: lp.refusedUntil.Sub(now)}
		_, refused := lp.refused[member]
		_, pending := lp.pending[member]
		if refused || pending {
			return c, true, false
		}
		if int64(lp.size()) >= pl.max {
			return c, false, false
		}
	}
	if l.members >= maxLocalMembers && !l.sweepPlaces(now) {
		return count{n: math.MaxInt64, ttl: pl.window}, false, false // cannot be tracked: refused
	}
	if lp == nil {
		if l.sets == nil {
			l.sets = map[string]*localPlaces{}
		}
		lp = &localPlaces{}
		l.sets[pl.refused] = lp
	}
	if lp.pending == nil {
		lp.pending = map[string]time.Time{}
	}
	lp.pending[strings.Clone(member)] = now.Add(pendingFor)
	l.members++
	return c, true, true
}

// settlePlace is settlePlaceScript in this process.
func (l *localCounters) settlePlace(now time.Time, pl placeLimit, member string, refused bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lp := l.places(now, pl.refused)
	if lp == nil {
		if !refused {
			return
		}
		if l.sets == nil {
			l.sets = map[string]*localPlaces{}
		}
		lp = &localPlaces{}
		l.sets[pl.refused] = lp
	}
	if _, ok := lp.pending[member]; ok {
		delete(lp.pending, member)
		l.members--
	}
	if !refused {
		if lp.size() == 0 {
			delete(l.sets, pl.refused)
		}
		return
	}
	if lp.refused == nil {
		lp.refused, lp.refusedUntil = map[string]struct{}{}, now.Add(pl.window)
	}
	if _, ok := lp.refused[member]; !ok {
		lp.refused[strings.Clone(member)] = struct{}{}
		l.members++
	}
}

// peekRefused is peekRefusedScript in this process.
func (l *localCounters) peekRefused(now time.Time, pl placeLimit) count {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lp := l.places(now, pl.refused); lp != nil && lp.refused != nil {
		return count{n: int64(len(lp.refused)), ttl: lp.refusedUntil.Sub(now)}
	}
	return count{}
}

// sweepPlaces drops every expired member (at most once a second: a flood must not make every
// caller wait on a sweep) and reports whether there is room for another.
func (l *localCounters) sweepPlaces(now time.Time) bool {
	if now.Sub(l.setsSwept) >= time.Second {
		l.setsSwept = now
		for k := range l.sets {
			l.places(now, k)
		}
	}
	return l.members < maxLocalMembers
}
