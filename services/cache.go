package services

import (
	"container/list"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/clock"
	"github.com/vanehq/vane/internal/keys"
)

// cacheTTL bounds how stale an entry can be if an invalidation notice is ever lost.
const cacheTTL = 30 * time.Second

// The invalidation channel's health: every node publishes a heartbeat on it every heartbeatEvery
// and hears its own (and the others') through Redis. Credentials cached here (API keys, roles) are
// trusted only while a heartbeat was heard within staleAfter; otherwise each request asks the
// database, so a revoked key or a removed member is refused on every node at once.
const (
	heartbeatEvery   = time.Second
	staleAfter       = 3 * time.Second
	heartbeatPayload = "\x00heartbeat"
)

// credentialPrefixes are the entries that are not trusted while the channel is unhealthy.
var credentialPrefixes = []string{"apikey:", "role:"}

// Cache keeps what every authenticated request needs (organisation by slug or id, a user's role in
// an organisation, an API key by hash) in memory, so a request with a JWT costs no database query.
// A write invalidates the entry here and publishes the same invalidation to every other node over
// Redis; entries also expire after cacheTTL as a safety net.
type Cache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	rdb     *redis.Client
	channel string
	node    string // names this process in its invalidations, so it skips their echo
	clock   clock.Clock
	log     *slog.Logger

	// Health of the invalidation channel, in real time (not the injectable clock: it measures Redis).
	lastBeat atomic.Int64 // unix nanoseconds of the last heartbeat heard; 0 when none or lost
	trusted  atomic.Bool  // credential entries may be used
	now      func() time.Time
	neg      *negCache
	// epoch moves at every drop: a value read from the database before a drop began is not cached
	// after it (it may be what the drop invalidated; see putIfCurrent).
	epoch atomic.Uint64
}

type cacheEntry struct {
	value   any
	expires time.Time
}

func newCache(rdb *redis.Client, prefix string, c clock.Clock, log *slog.Logger) *Cache {
	return &Cache{entries: map[string]cacheEntry{}, rdb: rdb, channel: prefix + "cache-invalidate", node: keys.Random(12), clock: c, log: log,
		now: time.Now, neg: newNegCache(negCacheSize, negCacheTTL, c)}
}

// healthy reports whether a heartbeat was heard on the invalidation channel recently.
func (c *Cache) healthy() bool {
	last := c.lastBeat.Load()
	return last != 0 && c.now().Sub(time.Unix(0, last)) < staleAfter
}

// credentialsTrusted reports whether cached API keys and roles may be used.
func (c *Cache) credentialsTrusted() bool { return c.healthy() && c.trusted.Load() }

// heard records a heartbeat. After an outage (no heartbeat within staleAfter) the credential
// entries are flushed once, since their invalidations may have been missed, and trusted again.
func (c *Cache) heard() {
	if !c.credentialsTrusted() {
		c.trusted.Store(false)
		c.drop(credentialPrefixes...)
		c.log.Info("cache invalidation channel healthy again; credential cache flushed and trusted")
	}
	c.lastBeat.Store(c.now().UnixNano())
	c.trusted.Store(true)
}

// lost marks the channel unhealthy at once (a publish failed), without waiting for staleAfter.
func (c *Cache) lost() {
	if c.lastBeat.Swap(0) != 0 {
		c.log.Warn("cache invalidation channel unhealthy; credentials are checked in the database")
	}
}

// heartbeat publishes a heartbeat now and every heartbeatEvery until ctx ends.
func (c *Cache) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		if err := c.rdb.Publish(ctx, c.channel, heartbeatPayload).Err(); err != nil && ctx.Err() == nil {
			c.lost()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CredentialsCached reports whether this node trusts its cached API keys and roles (the cache
// invalidation channel is healthy); while it does not, each request checks the database.
func (s *Services) CredentialsCached() bool { return s.cache.credentialsTrusted() }

// getCredential is get for an API key or role entry: a miss while the channel is unhealthy.
func (c *Cache) getCredential(key string) (any, bool) {
	if !c.credentialsTrusted() {
		return nil, false
	}
	return c.get(key)
}

func (c *Cache) get(key string) (any, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || c.clock.Now().After(e.expires) {
		return nil, false
	}
	return e.value, true
}

// readEpoch is the epoch to give putIfCurrent: read it before reading the value from the database.
func (c *Cache) readEpoch() uint64 { return c.epoch.Load() }

// putIfCurrent caches a value read from the database unless an entry was dropped since epoch was
// read: the read may have seen the row before the write that drop announced (a key revoked, a
// member removed on another node, or the flush when the channel became healthy again), and
// caching it would serve that old row for cacheTTL. A value not cached is read again next time.
func (c *Cache) putIfCurrent(key string, v any, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if len(c.entries) > 100_000 { // a crude bound: start over rather than grow without limit
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = cacheEntry{value: v, expires: c.clock.Now().Add(cacheTTL)}
}

// negAddIfCurrent remembers an unknown API key hash, unless an entry was dropped since epoch.
func (c *Cache) negAddIfCurrent(hash string, epoch uint64) {
	c.neg.addIf(hash, func() bool { return c.epoch.Load() == epoch })
}

// drop removes every entry whose key starts with one of the prefixes, on this node only. An exact
// API key entry also leaves the negative cache.
func (c *Cache) drop(prefixes ...string) {
	c.epoch.Add(1) // first: a put that checks the epoch after this is refused, one before is deleted below
	for _, p := range prefixes {
		if h, ok := strings.CutPrefix(p, "apikey:"); ok && h != "" {
			c.neg.remove(h)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				delete(c.entries, k)
				break
			}
		}
	}
}

// invalidationFrom starts the payload of an invalidation, then this node's name and a newline,
// then the prefixes one per line. A node of an older release reads the first line as a prefix,
// which names no entry.
const invalidationFrom = "\x01"

// Invalidate drops entries here and tells every other node to do the same.
func (c *Cache) Invalidate(ctx context.Context, prefixes ...string) {
	c.drop(prefixes...)
	payload := invalidationFrom + c.node + "\n" + strings.Join(prefixes, "\n")
	if err := c.rdb.Publish(ctx, c.channel, payload).Err(); err != nil {
		c.log.WarnContext(ctx, "publish cache invalidation", "err", err)
		c.lost()
	}
}

// subscribe subscribes to a channel and waits (at most 2 s) for Redis to confirm, so notices
// published after Start returns are not missed.
func subscribe(ctx context.Context, rdb *redis.Client, channel string) *redis.PubSub {
	sub := rdb.Subscribe(ctx, channel)
	wait, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = sub.Receive(wait) // the confirmation; on a timeout go-redis keeps trying in the background
	return sub
}

// listen applies other nodes' invalidations until ctx ends. go-redis resubscribes by itself after
// a connection loss; notices sent meanwhile are covered by cacheTTL.
func (c *Cache) listen(ctx context.Context, sub *redis.PubSub) {
	receive(ctx, sub, func(payload string) {
		if payload == heartbeatPayload {
			c.heard()
			return
		}
		if rest, ok := strings.CutPrefix(payload, invalidationFrom); ok {
			node, prefixes, _ := strings.Cut(rest, "\n")
			if node == c.node {
				return // dropped here when it was published: dropping again would only void reads in flight
			}
			payload = prefixes
		}
		c.drop(strings.Split(payload, "\n")...)
	})
}

// receive hands each message of a subscription to handle until ctx ends, then closes it.
func receive(ctx context.Context, sub *redis.PubSub, handle func(payload string)) {
	defer func() { _ = sub.Close() }()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			handle(msg.Payload)
		}
	}
}

// Cache key prefixes.
func orgKey(ref string) string            { return "org:" + ref }
func roleKey(orgID, userID string) string { return "role:" + orgID + ":" + userID }
func apiKeyKey(hash string) string        { return "apikey:" + hash }
func orgRolesPrefix(orgID string) string  { return "role:" + orgID + ":" }

// Negative cache of unknown (well-formed) API keys: bounded, least recently used out first, each
// entry for negCacheTTL, so guessing keys costs no query and cannot grow memory without limit.
const (
	negCacheSize = 10_000
	negCacheTTL  = 10 * time.Second
)

type negCache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	clock clock.Clock
	order *list.List // front: most recently used; values are negEntry
	index map[string]*list.Element
}

type negEntry struct {
	hash    string
	expires time.Time
}

func newNegCache(size int, ttl time.Duration, c clock.Clock) *negCache {
	return &negCache{size: size, ttl: ttl, clock: c, order: list.New(), index: map[string]*list.Element{}}
}

// has reports whether hash is known not to be a key (and not expired).
func (n *negCache) has(hash string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	el, ok := n.index[hash]
	if !ok {
		return false
	}
	if n.clock.Now().After(el.Value.(negEntry).expires) {
		n.order.Remove(el)
		delete(n.index, hash)
		return false
	}
	n.order.MoveToFront(el)
	return true
}

func (n *negCache) add(hash string) { n.addIf(hash, nil) }

// addIf is add if ok says so, asked under the negative cache's lock, so a removal cannot come
// between the question and the add.
func (n *negCache) addIf(hash string, ok func() bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ok != nil && !ok() {
		return
	}
	e := negEntry{hash: hash, expires: n.clock.Now().Add(n.ttl)}
	if el, ok := n.index[hash]; ok {
		el.Value = e
		n.order.MoveToFront(el)
		return
	}
	n.index[hash] = n.order.PushFront(e)
	for n.order.Len() > n.size {
		last := n.order.Back()
		n.order.Remove(last)
		delete(n.index, last.Value.(negEntry).hash)
	}
}

func (n *negCache) remove(hash string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if el, ok := n.index[hash]; ok {
		n.order.Remove(el)
		delete(n.index, hash)
	}
}

func (n *negCache) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.order.Len()
}
