package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8000" || c.Env != "development" || c.DatabaseURL != "" || c.RedisURL != "" || c.BcryptCost != 12 ||
		c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 720*time.Hour || !c.AutoMigrate || !c.AllowSignup ||
		!c.Worker || c.LogFormat != "text" || c.SQLitePath() != "data/vane.db" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestSignInLimits(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := []int{c.LoginMaxFailures, c.LoginAccountMaxFailures, c.LoginIPMaxFailures, c.SignupMaxPerIP, c.InviteAcceptMaxPerIP}
	if want := []int{5, 20, 100, 10, 30}; !slices.Equal(got, want) || c.LoginWindow != 15*time.Minute {
		t.Errorf("default limits = %v per %v, want %v per 15m", got, c.LoginWindow, want)
	}
	c, err = Load(env(map[string]string{"VANE_LOGIN_MAX_FAILURES": "3", "VANE_LOGIN_ACCOUNT_MAX_FAILURES": "9",
		"VANE_LOGIN_IP_MAX_FAILURES": "500", "VANE_SIGNUP_MAX_PER_IP": "2", "VANE_INVITE_ACCEPT_MAX_PER_IP": "7",
		"VANE_LOGIN_WINDOW": "1h"}))
	if err != nil {
		t.Fatal(err)
	}
	got = []int{c.LoginMaxFailures, c.LoginAccountMaxFailures, c.LoginIPMaxFailures, c.SignupMaxPerIP, c.InviteAcceptMaxPerIP}
	if want := []int{3, 9, 500, 2, 7}; !slices.Equal(got, want) || c.LoginWindow != time.Hour {
		t.Errorf("configured limits = %v per %v, want %v per 1h", got, c.LoginWindow, want)
	}
}

func TestProductionRefusesEmbeddedDefaults(t *testing.T) {
	_, err := Load(env(map[string]string{"VANE_ENV": "production"}))
	if err == nil {
		t.Fatal("production without DATABASE_URL or VANE_JWT_SECRET started")
	}
	for _, want := range []string{"DATABASE_URL", "VANE_JWT_SECRET", "REDIS_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	c, err := Load(env(map[string]string{"VANE_ENV": "production", "DATABASE_URL": "postgres://db/vane",
		"REDIS_URL": "redis://r:6379/0", "VANE_JWT_SECRET": strings.Repeat("s", 32)}))
	if err != nil || c.LogFormat != "json" {
		t.Fatalf("complete production config = %+v, %v", c, err)
	}
	if _, err := c.EnsureJWTSecret(); err != nil {
		t.Error(err)
	}
	if _, err := Load(env(map[string]string{"VANE_ENV": "production", "DATABASE_URL": "postgres://db/vane",
		"REDIS_URL": "redis://r", "VANE_JWT_SECRET": strings.Repeat("s", 32), "VANE_BCRYPT_COST": "10"})); err == nil {
		t.Error("production accepted bcrypt cost 10")
	}
}

func TestBadValues(t *testing.T) {
	cases := map[string]string{
		"VANE_ENV":                        "staging",
		"VANE_ACCESS_TOKEN_TTL":           "soon",
		"VANE_AUTO_MIGRATE":               "maybe",
		"VANE_LOG_LEVEL":                  "loud",
		"VANE_LOG_FORMAT":                 "xml",
		"DATABASE_URL":                    "mysql://x",
		"REDIS_URL":                       "http://x",
		"VANE_JWT_SECRET":                 "short",
		"VANE_BCRYPT_COST":                "40",
		"VANE_ADMIN_PASSWORD":             "123456789", // nine characters: the password policy wants ten
		"VANE_LOGIN_MAX_FAILURES":         "0",
		"VANE_LOGIN_ACCOUNT_MAX_FAILURES": "0",
		"VANE_LOGIN_IP_MAX_FAILURES":      "-1",
		"VANE_SIGNUP_MAX_PER_IP":          "many",
		"VANE_INVITE_ACCEPT_MAX_PER_IP":   "0",
	}
	for k, v := range cases {
		_, err := Load(env(map[string]string{k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: error %v, want one naming %s", k, v, err, k)
		}
	}
}

func TestDevelopmentSecretPersists(t *testing.T) {
	dir := t.TempDir()
	c1, _ := Load(env(map[string]string{"VANE_DATA_DIR": dir}))
	gen, err := c1.EnsureJWTSecret()
	if err != nil || !gen || len(c1.JWTSecret) < 32 {
		t.Fatalf("first EnsureJWTSecret = %v, %v", gen, err)
	}
	c2, _ := Load(env(map[string]string{"VANE_DATA_DIR": dir}))
	gen, err = c2.EnsureJWTSecret()
	if err != nil || gen || string(c2.JWTSecret) != string(c1.JWTSecret) {
		t.Errorf("second start generated=%v err=%v; the secret must be the same", gen, err)
	}
}

func TestPortalAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded default", nil, "127.0.0.1:3000"},
		{"with a database", map[string]string{"DATABASE_URL": "postgres://db/vane"}, ""},
		{"production", map[string]string{"VANE_ENV": "production", "DATABASE_URL": "postgres://db/vane",
			"VANE_JWT_SECRET": strings.Repeat("s", 32), "REDIS_URL": "redis://r:6379"}, ""},
		{"chosen", map[string]string{"VANE_PORTAL_ADDR": ":3001", "DATABASE_URL": "postgres://db/vane"}, ":3001"},
		{"off", map[string]string{"VANE_PORTAL_ADDR": "off"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.PortalAddr != tc.want {
				t.Errorf("PortalAddr = %q, want %q", c.PortalAddr, tc.want)
			}
		})
	}
}
