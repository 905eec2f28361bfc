package services

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/clock"
)

// cacheTTL bounds how stale an entry can be if an invalidation notice is ever lost.
const cacheTTL = 30 * time.Second

// Cache keeps what every authenticated request needs (organisation by slug or id, a user's role in
// an organisation, an API key by hash) in memory, so a request with a JWT costs no database query.
// A write invalidates the entry here and publishes the same invalidation to every other node over
// Redis; entries also expire after cacheTTL as a safety net.
type Cache struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	rdb     *redis.Client
	channel string
	clock   clock.Clock
	log     *slog.Logger
}

type cacheEntry struct {
	value   any
	expires time.Time
}

func newCache(rdb *redis.Client, prefix string, c clock.Clock, log *slog.Logger) *Cache {
	return &Cache{entries: map[string]cacheEntry{}, rdb: rdb, channel: prefix + "cache-invalidate", clock: c, log: log}
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

func (c *Cache) put(key string, v any) {
	c.mu.Lock()
	if len(c.entries) > 100_000 { // a crude bound: start over rather than grow without limit
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = cacheEntry{value: v, expires: c.clock.Now().Add(cacheTTL)}
	c.mu.Unlock()
}

// drop removes every entry whose key starts with one of the prefixes, on this node only.
func (c *Cache) drop(prefixes ...string) {
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

// Invalidate drops entries here and tells every other node to do the same.
func (c *Cache) Invalidate(ctx context.Context, prefixes ...string) {
	c.drop(prefixes...)
	if err := c.rdb.Publish(ctx, c.channel, strings.Join(prefixes, "\n")).Err(); err != nil {
		c.log.Warn("publish cache invalidation", "err", err)
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
			c.drop(strings.Split(msg.Payload, "\n")...)
		}
	}
}

// Cache key prefixes.
func orgKey(ref string) string            { return "org:" + ref }
func roleKey(orgID, userID string) string { return "role:" + orgID + ":" + userID }
func apiKeyKey(hash string) string        { return "apikey:" + hash }
func orgRolesPrefix(orgID string) string  { return "role:" + orgID + ":" }
