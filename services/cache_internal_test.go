package services

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/clock"
)

// TestCredentialTrustFollowsHeartbeat: cached credentials are used only while heartbeats are
// heard; after a gap the first heartbeat flushes them once, and caching resumes.
func TestCredentialTrustFollowsHeartbeat(t *testing.T) {
	real := time.Now()
	c := newCache(nil, "t:", clock.NewFake(real), slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return real }

	c.putIfCurrent(apiKeyKey("h"), "key", c.readEpoch())
	c.putIfCurrent(orgKey("acme"), "org", c.readEpoch())
	if _, ok := c.getCredential(apiKeyKey("h")); ok {
		t.Fatal("credentials trusted before any heartbeat was heard")
	}
	c.heard()
	c.putIfCurrent(apiKeyKey("h"), "key", c.readEpoch())
	if v, ok := c.getCredential(apiKeyKey("h")); !ok || v != "key" {
		t.Fatal("credentials not trusted while heartbeats are heard")
	}

	real = real.Add(staleAfter) // the outage: no heartbeat for staleAfter
	if _, ok := c.getCredential(apiKeyKey("h")); ok {
		t.Fatal("a cached API key was trusted with the invalidation channel silent")
	}
	c.putIfCurrent(roleKey("o", "u"), "ADMIN", c.readEpoch()) // a database answer during the outage

	c.heard() // Redis is back
	if _, ok := c.get(apiKeyKey("h")); ok {
		t.Error("the API key entry survived the recovery flush")
	}
	if _, ok := c.get(roleKey("o", "u")); ok {
		t.Error("the role entry survived the recovery flush")
	}
	if _, ok := c.get(orgKey("acme")); !ok {
		t.Error("the recovery flushed more than credentials")
	}
	c.putIfCurrent(apiKeyKey("h"), "key", c.readEpoch())
	real = real.Add(heartbeatEvery)
	c.heard() // a regular heartbeat flushes nothing
	if _, ok := c.getCredential(apiKeyKey("h")); !ok {
		t.Error("caching did not resume after the recovery")
	}

	c.lost() // a publish failed: untrusted at once
	if _, ok := c.getCredential(apiKeyKey("h")); ok {
		t.Error("credentials trusted after a failed publish")
	}
}

// TestNegCacheBoundedLRU: the least recently used entry leaves first, entries expire, and an
// exact invalidation removes one entry only.
func TestNegCacheBoundedLRU(t *testing.T) {
	clk := clock.NewFake(time.Now())
	n := newNegCache(2, time.Second, clk)
	n.add("a")
	n.add("b")
	n.has("a") // a is now the most recent
	n.add("c")
	if n.has("b") || !n.has("a") || !n.has("c") || n.len() != 2 {
		t.Fatalf("LRU eviction wrong: b=%v a=%v c=%v len=%d", n.has("b"), n.has("a"), n.has("c"), n.len())
	}
	c := &Cache{entries: map[string]cacheEntry{}, clock: clk, neg: n}
	c.drop(apiKeyKey("a"))
	if n.has("a") || !n.has("c") {
		t.Error("exact invalidation did not remove exactly the key")
	}
	clk.Advance(2 * time.Second)
	if n.has("c") {
		t.Error("an entry outlived its TTL")
	}
}

// TestReadBeforeDropIsNotCached: a value read from the database before an invalidation (or the
// recovery flush) arrived is not cached after it, so a key revoked on another node while this
// node was reading it is not served from the cache for cacheTTL; a read after the drop is.
func TestReadBeforeDropIsNotCached(t *testing.T) {
	real := time.Now()
	c := newCache(nil, "t:", clock.NewFake(real), slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return real }
	c.heard()

	epoch := c.readEpoch() // a request starts reading the key from the database
	c.drop(apiKeyKey("h")) // meanwhile another node revokes it: its invalidation arrives
	c.putIfCurrent(apiKeyKey("h"), "key (before the revocation)", epoch)
	c.negAddIfCurrent("unknown", epoch)
	if _, ok := c.getCredential(apiKeyKey("h")); ok {
		t.Fatal("a row read before the invalidation was cached after it")
	}
	if c.neg.has("unknown") {
		t.Fatal("a key unknown before the invalidation was remembered as unknown after it")
	}

	epoch = c.readEpoch() // read again, after the drop: cached
	c.putIfCurrent(apiKeyKey("h"), "key (revoked)", epoch)
	c.negAddIfCurrent("unknown", epoch)
	if v, ok := c.getCredential(apiKeyKey("h")); !ok || v != "key (revoked)" {
		t.Fatalf("a read after the invalidation was not cached: %v %v", v, ok)
	}
	if !c.neg.has("unknown") {
		t.Fatal("an unknown key read after the invalidation was not remembered")
	}

	// The recovery flush counts as a drop too.
	epoch = c.readEpoch()
	real = real.Add(staleAfter)
	c.heard()
	c.putIfCurrent(roleKey("o", "u"), "ADMIN", epoch)
	if _, ok := c.getCredential(roleKey("o", "u")); ok {
		t.Fatal("a role read before the recovery flush was cached after it")
	}
}

// TestInvalidationEchoSkipped: an invalidation reaches the other nodes, and its echo on the node
// that published it (which dropped the entries already) drops nothing more, so it does not void
// that node's reads in flight; a payload of an older release (no node line) still drops.
func TestInvalidationEchoSkipped(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	clk := clock.NewFake(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a := newCache(rdb, "t:", clk, slog.New(slog.DiscardHandler))
	b := newCache(rdb, "t:", clk, slog.New(slog.DiscardHandler))
	for _, c := range []*Cache{a, b} {
		go c.listen(ctx, subscribe(ctx, rdb, c.channel))
	}
	b.putIfCurrent(orgKey("acme"), "org", b.readEpoch())
	a.Invalidate(ctx, orgKey("acme"))
	if a.readEpoch() != 1 {
		t.Fatalf("epoch %d after a local invalidation, want 1", a.readEpoch())
	}
	gone := func(what, key string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := b.get(key); !ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	gone("the other node never dropped the entry", orgKey("acme"))
	// An older release's payload (the prefixes alone), published after a's own: once b drops it,
	// a has heard its echo too, in order.
	b.putIfCurrent(orgKey("bravo"), "org", b.readEpoch())
	if err := rdb.Publish(ctx, a.channel, orgKey("bravo")).Err(); err != nil {
		t.Fatal(err)
	}
	gone("a payload without a node line was not dropped", orgKey("bravo"))
	for deadline := time.Now().Add(5 * time.Second); a.readEpoch() != 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if e := a.readEpoch(); e != 2 {
		t.Fatalf("epoch %d on the publishing node, want 2 (its own drop, then the older payload; not its echo)", e)
	}
}
