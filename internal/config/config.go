// Package config loads Vane's configuration from the environment and validates it at start.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is everything Vane reads from its environment. Each field documents its zero value.
type Config struct {
	// Env is VANE_ENV: "development" (default), "test" or "production". Production refuses to start
	// without DATABASE_URL and VANE_JWT_SECRET instead of falling back to embedded defaults.
	Env string
	// Addr is VANE_ADDR, the HTTP listen address; default ":8000".
	Addr string
	// PortalAddr is VANE_PORTAL_ADDR, a second address serving the portal (and the API behind it).
	// Default "127.0.0.1:3000" on the embedded default (no DATABASE_URL, not production), otherwise
	// empty; "off" (or empty) serves the portal only at / of Addr.
	PortalAddr string
	// MetricsAddr is VANE_METRICS_ADDR: when set, Prometheus /metrics is served on this address
	// alone instead of on Addr; empty (the default) serves it on Addr.
	MetricsAddr string
	// DatabaseURL is DATABASE_URL. Empty means the embedded SQLite file in DataDir.
	DatabaseURL string
	// DataDir is VANE_DATA_DIR, where the embedded SQLite database (and a generated development JWT
	// secret) live; default "./data".
	DataDir string
	// RedisURL is REDIS_URL. Empty means an in-process Redis-compatible server on a loopback port.
	RedisURL string
	// RedisPrefix is VANE_REDIS_PREFIX, prepended to every key and channel Vane uses; default "vane:".
	RedisPrefix string
	// JWTSecret is VANE_JWT_SECRET (at least 32 bytes). Empty outside production means a random
	// secret kept in DataDir/jwt.secret so tokens survive restarts.
	JWTSecret []byte
	// JWTIssuer is VANE_JWT_ISSUER, the iss and aud base of access tokens; default "vane".
	JWTIssuer string
	// AccessTokenTTL is VANE_ACCESS_TOKEN_TTL; default 15m.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is VANE_REFRESH_TOKEN_TTL; default 720h (30 days).
	RefreshTokenTTL time.Duration
	// BcryptCost is VANE_BCRYPT_COST; default 12, and never below 12 in production.
	BcryptCost int
	// LogLevel is VANE_LOG_LEVEL: debug, info (default), warn, error.
	LogLevel slog.Level
	// LogFormat is VANE_LOG_FORMAT: "json" (default in production) or "text" (default elsewhere).
	LogFormat string
	// CORSOrigins is VANE_CORS_ORIGINS, comma-separated allowed origins ("*" for any); default none.
	CORSOrigins []string
	// TrustedProxies is VANE_TRUSTED_PROXIES, comma-separated CIDRs or IPs whose X-Forwarded-For is
	// believed for the client IP (rate limits, audit). Default none: the peer address is the client.
	TrustedProxies []string
	// AutoMigrate is VANE_AUTO_MIGRATE; default true: `vane serve` applies migrations on start.
	AutoMigrate bool
	// AllowSignup is VANE_ALLOW_SIGNUP; default true: anyone may sign up and get a new organisation.
	AllowSignup bool
	// Worker is VANE_WORKER; default true: `vane serve` also runs the background worker in-process.
	Worker bool
	// AdminEmail is VANE_ADMIN_EMAIL, the first admin created on an empty database; default
	// "admin@vane.local" (username "admin").
	AdminEmail string
	// AdminPassword is VANE_ADMIN_PASSWORD. Empty means a generated password, logged once.
	AdminPassword string
	// LoginMaxFailures is VANE_LOGIN_MAX_FAILURES, failed sign-ins allowed for one account from one
	// client IP in LoginWindow before that pair gets 429; default 5. An account is the same whether
	// named by username or email; an unknown login counts the same way, by the login as typed.
	LoginMaxFailures int
	// LoginAccountMaxFailures is VANE_LOGIN_ACCOUNT_MAX_FAILURES, failed sign-ins allowed for one
	// account from all IPs together in LoginWindow (guessing spread over many addresses); default 20.
	LoginAccountMaxFailures int
	// LoginIPMaxFailures is VANE_LOGIN_IP_MAX_FAILURES, failed sign-ins allowed from one client IP
	// over all accounts in LoginWindow; default 100, so an office behind one NAT is not locked out.
	LoginIPMaxFailures int
	// LoginWindow is VANE_LOGIN_WINDOW, the window of the sign-in and invitation limits; default 15m.
	LoginWindow time.Duration
	// SignupMaxPerIP is VANE_SIGNUP_MAX_PER_IP, sign-ups allowed per client IP per hour; default 10.
	SignupMaxPerIP int
	// InviteAcceptMaxPerIP is VANE_INVITE_ACCEPT_MAX_PER_IP, calls of /auth/accept-invite allowed per
	// client IP in LoginWindow; default 30 (each invitation token also takes at most 10).
	InviteAcceptMaxPerIP int
	// WebhookAllowPrivate is VANE_WEBHOOK_ALLOW_PRIVATE; default false: webhooks to loopback,
	// private and link-local addresses are refused.
	WebhookAllowPrivate bool
	// WebhookRetryBase is VANE_WEBHOOK_RETRY_BASE, the first retry delay of a failed webhook
	// delivery, doubling each time (8 retries); default 10s.
	WebhookRetryBase time.Duration
	// ShutdownTimeout is VANE_SHUTDOWN_TIMEOUT, how long in-flight requests get on SIGTERM; default 15s.
	ShutdownTimeout time.Duration
}

// Production reports whether Vane runs with production safeguards.
func (c *Config) Production() bool { return c.Env == "production" }

// SQLitePath is the embedded database file used when DatabaseURL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "vane.db") }

// Load reads the configuration from getenv and validates it. It never invents a secret in production.
func Load(getenv func(string) string) (*Config, error) {
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, args...))
	}
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, "want a positive duration like 15m, got %q", v)
			return def
		}
		return d
	}
	boolean := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, "want true or false, got %q", v)
			return def
		}
		return b
	}
	integer := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad(name, "want an integer, got %q", v)
			return def
		}
		return n
	}

	c := &Config{
		Env:                 str("VANE_ENV", "development"),
		Addr:                str("VANE_ADDR", ":8000"),
		MetricsAddr:         str("VANE_METRICS_ADDR", ""),
		DatabaseURL:         str("DATABASE_URL", ""),
		DataDir:             str("VANE_DATA_DIR", "./data"),
		RedisURL:            str("REDIS_URL", ""),
		RedisPrefix:         str("VANE_REDIS_PREFIX", "vane:"),
		JWTIssuer:           str("VANE_JWT_ISSUER", "vane"),
		AccessTokenTTL:      dur("VANE_ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:     dur("VANE_REFRESH_TOKEN_TTL", 720*time.Hour),
		BcryptCost:          integer("VANE_BCRYPT_COST", 12),
		AutoMigrate:         boolean("VANE_AUTO_MIGRATE", true),
		AllowSignup:         boolean("VANE_ALLOW_SIGNUP", true),
		Worker:              boolean("VANE_WORKER", true),
		AdminEmail:          strings.ToLower(str("VANE_ADMIN_EMAIL", "admin@vane.local")),
		AdminPassword:       getenv("VANE_ADMIN_PASSWORD"),
		LoginMaxFailures:    integer("VANE_LOGIN_MAX_FAILURES", 5),
		LoginWindow:         dur("VANE_LOGIN_WINDOW", 15*time.Minute),
		SignupMaxPerIP:      integer("VANE_SIGNUP_MAX_PER_IP", 10),
		ShutdownTimeout:     dur("VANE_SHUTDOWN_TIMEOUT", 15*time.Second),
		WebhookAllowPrivate: boolean("VANE_WEBHOOK_ALLOW_PRIVATE", false),
		WebhookRetryBase:    dur("VANE_WEBHOOK_RETRY_BASE", 10*time.Second),

		LoginAccountMaxFailures: integer("VANE_LOGIN_ACCOUNT_MAX_FAILURES", 20),
		LoginIPMaxFailures:      integer("VANE_LOGIN_IP_MAX_FAILURES", 100),
		InviteAcceptMaxPerIP:    integer("VANE_INVITE_ACCEPT_MAX_PER_IP", 30),
	}
	c.PortalAddr = str("VANE_PORTAL_ADDR", "")
	if getenv("VANE_PORTAL_ADDR") == "" && c.DatabaseURL == "" && c.Env != "production" {
		c.PortalAddr = "127.0.0.1:3000"
	}
	if strings.EqualFold(c.PortalAddr, "off") {
		c.PortalAddr = ""
	}
	switch c.Env {
	case "development", "test", "production":
	default:
		bad("VANE_ENV", "want development, test or production, got %q", c.Env)
	}
	if err := c.LogLevel.UnmarshalText([]byte(str("VANE_LOG_LEVEL", "info"))); err != nil {
		bad("VANE_LOG_LEVEL", "want debug, info, warn or error, got %q", getenv("VANE_LOG_LEVEL"))
	}
	defFormat := "text"
	if c.Production() {
		defFormat = "json"
	}
	c.LogFormat = str("VANE_LOG_FORMAT", defFormat)
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("VANE_LOG_FORMAT", "want json or text, got %q", c.LogFormat)
	}
	for _, o := range strings.Split(getenv("VANE_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	for _, o := range strings.Split(getenv("VANE_TRUSTED_PROXIES"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.TrustedProxies = append(c.TrustedProxies, o)
		}
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("DATABASE_URL", "want a postgres:// URL (leave it empty for the embedded SQLite database)")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("REDIS_URL", "want a redis:// or rediss:// URL (leave it empty for the embedded store)")
	}
	if c.BcryptCost < 4 || c.BcryptCost > 16 {
		bad("VANE_BCRYPT_COST", "want 12 to 16 (4 to 16 outside production), got %d", c.BcryptCost)
	} else if c.Production() && c.BcryptCost < 12 {
		bad("VANE_BCRYPT_COST", "must be at least 12 in production, got %d", c.BcryptCost)
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"VANE_LOGIN_MAX_FAILURES", c.LoginMaxFailures}, {"VANE_LOGIN_ACCOUNT_MAX_FAILURES", c.LoginAccountMaxFailures},
		{"VANE_LOGIN_IP_MAX_FAILURES", c.LoginIPMaxFailures}, {"VANE_SIGNUP_MAX_PER_IP", c.SignupMaxPerIP},
		{"VANE_INVITE_ACCEPT_MAX_PER_IP", c.InviteAcceptMaxPerIP}} {
		if l.n < 1 {
			bad(l.name, "want at least 1, got %d", l.n)
		}
	}
	if c.AdminPassword != "" && len([]rune(c.AdminPassword)) < 10 {
		bad("VANE_ADMIN_PASSWORD", "must be at least 10 characters")
	}
	if s := getenv("VANE_JWT_SECRET"); s != "" {
		if len(s) < 32 {
			bad("VANE_JWT_SECRET", "must be at least 32 bytes")
		}
		c.JWTSecret = []byte(s)
	}
	if c.Production() {
		if c.DatabaseURL == "" {
			bad("DATABASE_URL", "is required when VANE_ENV=production")
		}
		if len(c.JWTSecret) == 0 {
			bad("VANE_JWT_SECRET", "is required when VANE_ENV=production")
		}
		if c.RedisURL == "" {
			bad("REDIS_URL", "is required when VANE_ENV=production")
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return c, nil
}

// EnsureJWTSecret fills an empty JWTSecret outside production with a random one persisted in
// DataDir, so development tokens survive a restart. It reports whether it generated a new one.
func (c *Config) EnsureJWTSecret() (bool, error) {
	if len(c.JWTSecret) > 0 {
		return false, nil
	}
	if c.Production() {
		return false, errors.New("VANE_JWT_SECRET is required when VANE_ENV=production")
	}
	path := filepath.Join(c.DataDir, "jwt.secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		c.JWTSecret = []byte(strings.TrimSpace(string(b)))
		return false, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return false, err
	}
	secret := hex.EncodeToString(buf)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return false, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	c.JWTSecret = []byte(secret)
	return true, nil
}
