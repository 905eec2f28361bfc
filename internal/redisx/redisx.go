// Package redisx connects to Redis, or starts an in-process Redis-compatible server when no URL is
// configured, so the embedded default needs nothing installed.
package redisx

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Conn is an open Redis connection and, when embedded, the server behind it.
type Conn struct {
	Client *redis.Client
	// Options are the connection options, for other clients (asynq) to dial the same server.
	Options *redis.Options
	// Embedded is the in-process server, nil when a real Redis is used.
	Embedded *miniredis.Miniredis
	stop     chan struct{}
}

// Open connects to url, or with an empty url starts miniredis on a loopback port. miniredis never
// expires keys by itself, so a ticker advances its clock once a second.
func Open(ctx context.Context, url string, log *slog.Logger) (*Conn, error) {
	c := &Conn{stop: make(chan struct{})}
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		c.Embedded = m
		c.Options = &redis.Options{Addr: m.Addr()}
		go c.tick(m)
		if log != nil {
			log.Info("embedded redis-compatible store started", "addr", m.Addr())
		}
	} else {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("parse REDIS_URL: %w", err)
		}
		c.Options = opts
	}
	c.Client = redis.NewClient(c.Options)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Client.Ping(pingCtx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("reach redis: %w", err)
	}
	return c, nil
}

func (c *Conn) tick(m *miniredis.Miniredis) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			m.FastForward(time.Second)
		}
	}
}

// Close closes the client and stops an embedded server.
func (c *Conn) Close() {
	select {
	case <-c.stop:
		return
	default:
		close(c.stop)
	}
	if c.Client != nil {
		_ = c.Client.Close()
	}
	if c.Embedded != nil {
		c.Embedded.Close()
	}
}
