package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/services"
)

// reqFrom sends a JSON request as from the client address ip (s.req always uses 192.0.2.10).
// headers are name, value pairs; "auth" sets a bearer credential.
func (s *server) reqFrom(ip, method, path string, body any, headers ...string) response {
	s.t.Helper()
	buf, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := httptest.NewRequest(method, path, bytes.NewReader(buf))
	r.RemoteAddr = ip + ":4321"
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "auth" {
			r.Header.Set("Authorization", "Bearer "+headers[i+1])
		} else {
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, r)
	return response{Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// wantRetryAfter fails unless r is a 429 rate_limited answer with Retry-After within (0, max].
func wantRetryAfter(t *testing.T, r response, max time.Duration) {
	t.Helper()
	if r.Code != 429 {
		t.Fatalf("status = %d, want 429; body: %s", r.Code, r.Body)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || time.Duration(ra)*time.Second > max {
		t.Errorf("Retry-After = %q, want 1 to %v seconds", r.Header.Get("Retry-After"), max.Seconds())
	}
	if code, _ := r.errorField(); code != "rate_limited" {
		t.Errorf("code = %q, want rate_limited", code)
	}
}

func loginBody(login, pw string) map[string]string {
	return map[string]string{"username": login, "password": pw}
}

// TestAcceptInviteExistingAccountNeedsItsSession: an invitation to an email that has an account is
// no way to guess that account's password. It is accepted only by a request signed in as that
// account; a password in the body is refused whether right or wrong (so nothing can be learnt from
// the answer), and anyone else's credential is refused.
func TestAcceptInviteExistingAccountNeedsItsSession(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	gus := s.user("gus@example.test")
	inv := decode[api.InvitationResponse](t, s.req("POST", "/api/v1/orgs/bravo/members",
		map[string]string{"email": "gus@example.test", "role": "VIEWER"}, "auth", b.admin).want(t, 201))
	gusToken := s.login("gus@example.test")

	for _, tc := range []struct {
		name      string
		body      map[string]any
		auth      string
		code      int
		errorCode string
		field     string
	}{
		{"his right password, not signed in", map[string]any{"token": inv.Token, "password": password}, "", 422, "validation_failed", "password"},
		{"a wrong password, not signed in", map[string]any{"token": inv.Token, "password": "not-his-password"}, "", 422, "validation_failed", "password"},
		{"his right password while signed in", map[string]any{"token": inv.Token, "password": password}, gusToken, 422, "validation_failed", "password"},
		{"no credential, no password", map[string]any{"token": inv.Token}, "", 401, "unauthorized", ""},
		{"a forged access token", map[string]any{"token": inv.Token}, "not-a-token", 401, "unauthorized", ""},
		{"another user's access token", map[string]any{"token": inv.Token}, a.dev, 403, "forbidden", ""},
		{"bravo's admin's access token", map[string]any{"token": inv.Token}, b.admin, 403, "forbidden", ""},
		{"an admin API key", map[string]any{"token": inv.Token}, b.keyA, 403, "forbidden", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.req("POST", "/api/v1/auth/accept-invite", tc.body, "auth", tc.auth).want(t, tc.code)
			if code, field := r.errorField(); code != tc.errorCode || field != tc.field {
				t.Errorf("accept-invite = %s %q, want %s %q; body %s", code, field, tc.errorCode, tc.field, r.Body)
			}
			if n := s.count("memberships", "org_id = ? AND user_id = ?", b.org.ID, gus.ID); n != 0 {
				t.Errorf("a refused acceptance made gus a member (%d rows)", n)
			}
			if n := s.count("invitations", "id = ? AND accepted_at IS NULL", inv.ID); n != 1 {
				t.Errorf("a refused acceptance used up the invitation")
			}
		})
	}

	// Signed in as himself, without a password: he joins with the invited role.
	r := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv.Token},
		"auth", gusToken).want(t, 200))
	if r.User.ID != gus.ID || r.Organization == nil || r.Organization.Slug != "bravo" {
		t.Errorf("accepted as %s into %+v, want gus into bravo", r.User.ID, r.Organization)
	}
	me := decode[api.MeResponse](t, s.req("GET", "/api/v1/me", nil, "auth", gusToken).want(t, 200))
	if len(me.Memberships) != 1 || me.Memberships[0].Role != "VIEWER" || me.Memberships[0].Organization.Slug != "bravo" {
		t.Errorf("gus's memberships = %+v, want VIEWER of bravo", me.Memberships)
	}
	s.req("POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv.Token}, "auth", gusToken).want(t, 404)
}

// TestAcceptInviteNewAccount: an email without an account still accepts by choosing a password,
// under the password policy, and not while signed in as somebody else.
func TestAcceptInviteNewAccount(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	inv := decode[api.InvitationResponse](t, s.req("POST", "/api/v1/orgs/acme/members",
		map[string]string{"email": "ann.newcomer@example.test", "role": "DEVELOPER"}, "auth", a.admin).want(t, 201))

	for _, tc := range []struct {
		name string
		body map[string]any
		auth string
		code int
	}{
		{"no password", map[string]any{"token": inv.Token}, "", 422},
		{"too short", map[string]any{"token": inv.Token, "password": "nine-char"}, "", 422},
		{"a common password", map[string]any{"token": inv.Token, "password": "Password123"}, "", 422},
		{"the email as password", map[string]any{"token": inv.Token, "password": "ann.newcomer@example.test"}, "", 422},
		{"signed in as someone else", map[string]any{"token": inv.Token, "password": password}, a.viewer, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.req("POST", "/api/v1/auth/accept-invite", tc.body, "auth", tc.auth).want(t, tc.code)
			if _, field := r.errorField(); tc.code == 422 && field != "password" {
				t.Errorf("refusal names field %q, want password; body %s", field, r.Body)
			}
			if n := s.count("users", "email = ?", "ann.newcomer@example.test"); n != 0 {
				t.Errorf("a refused acceptance created the user")
			}
		})
	}
	tok := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/accept-invite",
		map[string]any{"token": inv.Token, "password": password, "username": "ann"}).want(t, 200))
	s.req("GET", "/api/v1/orgs/acme/projects", nil, "auth", tok.AccessToken).want(t, 200)
	s.req("POST", "/api/v1/auth/login", loginBody("ann", password)).want(t, 200)
}

// TestAcceptInviteIsRateLimited: per client IP, and per invitation token whatever the IP.
func TestAcceptInviteIsRateLimited(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.InviteAcceptMaxPerIP = 5 })
	for i := 0; i < 5; i++ {
		s.reqFrom("198.51.100.1", "POST", "/api/v1/auth/accept-invite", map[string]any{"token": "vit_guess" + strconv.Itoa(i)}).want(t, 404)
	}
	wantRetryAfter(t, s.reqFrom("198.51.100.1", "POST", "/api/v1/auth/accept-invite", map[string]any{"token": "vit_guess"}), 15*time.Minute)
	s.reqFrom("198.51.100.2", "POST", "/api/v1/auth/accept-invite", map[string]any{"token": "vit_guess"}).want(t, 404)

	// One invitation, tried from ten addresses: the eleventh try is refused from anywhere, even
	// with the right credential.
	a := s.newTenant("acme")
	s.user("kit@example.test")
	inv := decode[api.InvitationResponse](t, s.req("POST", "/api/v1/orgs/acme/members",
		map[string]string{"email": "kit@example.test", "role": "VIEWER"}, "auth", a.admin).want(t, 201))
	for i := 0; i < 10; i++ {
		s.reqFrom(fmt.Sprintf("203.0.113.%d", i), "POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv.Token}).want(t, 401)
	}
	wantRetryAfter(t, s.reqFrom("203.0.113.99", "POST", "/api/v1/auth/accept-invite", map[string]any{"token": inv.Token},
		"auth", s.login("kit@example.test")), 15*time.Minute)
}

// TestPasswordPolicy: sign-up (and every other place a password is chosen) wants 10 characters,
// not the account's email or username, and nothing from the list of breached passwords.
func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, tc := range []struct {
		name, email, username, password string
		code                            int
	}{
		{"nine characters", "p1@example.test", "", "abcdefgh1", 422},
		{"a common password", "p2@example.test", "", "qwertyuiop", 422},
		{"a common password in capitals", "p3@example.test", "", "PASSWORD123", 422},
		{"another common one", "p4@example.test", "", "iloveyou12", 422},
		{"the email", "p5-long@example.test", "", "P5-LONG@example.test", 422},
		{"the email's name", "longname.person@example.test", "", "longname.person", 422},
		{"the username", "p6@example.test", "kimberly-lee", "Kimberly-Lee", 422},
		{"73 bytes", "p7@example.test", "", "a-long-passphrase-" + string(bytes.Repeat([]byte("x"), 55)), 422},
		{"the tests' passphrase", "p8@example.test", "", password, 201},
		{"ten characters", "p9@example.test", "", "tq8-vz!3mk", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"email": tc.email, "password": tc.password}
			if tc.username != "" {
				body["username"] = tc.username
			}
			r := s.req("POST", "/api/v1/auth/signup", body).want(t, tc.code)
			if tc.code == 422 {
				if code, field := r.errorField(); code != "validation_failed" || field != "password" {
					t.Errorf("signup(%q) = %s %q, want validation_failed password", tc.password, code, field)
				}
				if n := s.count("users", "email = ?", tc.email); n != 0 {
					t.Errorf("a refused sign-up wrote the user")
				}
			}
		})
	}
	// The admin CLI's set-password follows the same policy.
	if err := s.Svc.Auth.SetPassword(t.Context(), "p8@example.test", "p8@example.test"); err == nil {
		t.Error("SetPassword accepted the user's own email as password")
	}
}

// TestSignupIsRateLimitedPerIP: VANE_SIGNUP_MAX_PER_IP sign-ups an hour from one address;
// attempts refused as invalid do not count, and other addresses are not affected.
func TestSignupIsRateLimitedPerIP(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.SignupMaxPerIP = 2 })
	signup := func(ip, email, pw string) response {
		return s.reqFrom(ip, "POST", "/api/v1/auth/signup", map[string]any{"email": email, "password": pw})
	}
	for i := 0; i < 5; i++ {
		signup("198.51.100.7", "typo@example.test", "short").want(t, 422)
	}
	signup("198.51.100.7", "one@example.test", password).want(t, 201)
	signup("198.51.100.7", "two@example.test", password).want(t, 201)
	wantRetryAfter(t, signup("198.51.100.7", "three@example.test", password), time.Hour)
	if n := s.count("users", "email = ?", "three@example.test"); n != 0 {
		t.Errorf("a refused sign-up wrote the user")
	}
	signup("198.51.100.8", "three@example.test", password).want(t, 201)
}

// TestLoginCountsOneAccountOnce: the username and the email of one account share its counter, so
// switching between them does not double the guesses; an unknown login is counted by the login
// as typed (normalised) and is refused the same way.
func TestLoginCountsOneAccountOnce(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures = 4 })
	hal := "hal"
	if _, err := s.Svc.Auth.CreateUser(t.Context(), "hal@example.test", &hal, "", password); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"hal", "HAL@example.test", " hal ", "hal@example.test"} {
		s.req("POST", "/api/v1/auth/login", loginBody(login, "wrong-password")).want(t, 401)
	}
	known := s.req("POST", "/api/v1/auth/login", loginBody("hal", password))
	wantRetryAfter(t, known, 15*time.Minute)

	for _, login := range []string{"Ghost@Example.test", "ghost@example.test ", "GHOST@EXAMPLE.TEST", "ghost@example.test"} {
		s.req("POST", "/api/v1/auth/login", loginBody(login, "wrong-password")).want(t, 401)
	}
	unknown := s.req("POST", "/api/v1/auth/login", loginBody("ghost@example.test", "wrong-password"))
	wantRetryAfter(t, unknown, 15*time.Minute)
	if km, um := known.JSON()["error"].(map[string]any)["message"], unknown.JSON()["error"].(map[string]any)["message"]; km != um {
		t.Errorf("a locked known account says %s, a locked unknown login %s: they must not differ", known.Body, unknown.Body)
	}
}

// TestLoginLockoutIsPerAccountAndIP: one address guessing one account is stopped, while the owner
// signs in from elsewhere and the same address still signs in to other accounts.
func TestLoginLockoutIsPerAccountAndIP(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures = 3 })
	s.user("ivy@example.test")
	s.user("jay@example.test")
	const attacker, owner = "198.51.100.66", "203.0.113.5"
	for i := 0; i < 3; i++ {
		s.reqFrom(attacker, "POST", "/api/v1/auth/login", loginBody("ivy@example.test", "guess-"+strconv.Itoa(i))).want(t, 401)
	}
	wantRetryAfter(t, s.reqFrom(attacker, "POST", "/api/v1/auth/login", loginBody("ivy@example.test", password)), 15*time.Minute)
	s.reqFrom(owner, "POST", "/api/v1/auth/login", loginBody("ivy@example.test", password)).want(t, 200)
	s.reqFrom(attacker, "POST", "/api/v1/auth/login", loginBody("jay@example.test", password)).want(t, 200)

	if s.Redis.Mini != nil { // the window passes (miniredis needs its clock moved)
		s.Redis.Mini.FastForward(16 * time.Minute)
		s.reqFrom(attacker, "POST", "/api/v1/auth/login", loginBody("ivy@example.test", password)).want(t, 200)
	}
}

// TestLoginAccountLimitAcrossAddresses: guesses at one account spread over many addresses stop at
// VANE_LOGIN_ACCOUNT_MAX_FAILURES, wherever the next attempt comes from.
func TestLoginAccountLimitAcrossAddresses(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures, c.LoginAccountMaxFailures = 3, 6 })
	s.user("kay@example.test")
	for i := 0; i < 6; i++ {
		ip := fmt.Sprintf("198.51.100.%d", 10+i/3) // two addresses, three guesses each
		s.reqFrom(ip, "POST", "/api/v1/auth/login", loginBody("kay@example.test", "guess-"+strconv.Itoa(i))).want(t, 401)
	}
	wantRetryAfter(t, s.reqFrom("203.0.113.200", "POST", "/api/v1/auth/login", loginBody("kay@example.test", password)), 15*time.Minute)
}

// TestLoginAccountLimitSparesTheOwner: guesses from strangers' addresses cannot lock the owner out
// of an address they signed in from before (the per-account total does not apply there).
func TestLoginAccountLimitSparesTheOwner(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures, c.LoginAccountMaxFailures = 3, 6 })
	s.user("kim@example.test")
	home := "203.0.113.77"
	s.reqFrom(home, "POST", "/api/v1/auth/login", loginBody("kim@example.test", password)).want(t, 200)
	for i := 0; i < 9; i++ {
		ip := fmt.Sprintf("198.51.100.%d", 20+i/3)
		s.reqFrom(ip, "POST", "/api/v1/auth/login", loginBody("kim@example.test", "guess-"+strconv.Itoa(i)))
	}
	wantRetryAfter(t, s.reqFrom("203.0.113.200", "POST", "/api/v1/auth/login", loginBody("kim@example.test", password)), 15*time.Minute)
	s.reqFrom(home, "POST", "/api/v1/auth/login", loginBody("kim@example.test", password)).want(t, 200)
}

// TestLoginBurstIsLimited: parallel guesses are counted before the password is checked, so a
// burst gets no more tries than the limit (they used to all read the old count and all run).
func TestLoginBurstIsLimited(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures = 5 })
	s.user("max@example.test")
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = s.reqFrom("198.51.100.99", "POST", "/api/v1/auth/login", loginBody("max@example.test", "guess-"+strconv.Itoa(i))).Code
		}()
	}
	wg.Wait()
	tried := 0
	for _, c := range codes {
		switch c {
		case 401:
			tried++
		case 429:
		default:
			t.Fatalf("status %d in %v", c, codes)
		}
	}
	if tried != 5 {
		t.Errorf("%d of 40 parallel guesses were tried, want 5", tried)
	}
}

// TestLoginIPv6PerSubscriber: IPv6 clients are counted by their /64, so walking through a
// subscriber's addresses buys no more guesses.
func TestLoginIPv6PerSubscriber(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures = 3 })
	s.user("ivy@example.test")
	for i := 0; i < 3; i++ {
		s.reqFrom(fmt.Sprintf("[2001:db8:1:2::%x]", i+1), "POST", "/api/v1/auth/login", loginBody("ivy@example.test", "guess")).want(t, 401)
	}
	s.reqFrom("[2001:db8:1:2:ffff::9]", "POST", "/api/v1/auth/login", loginBody("ivy@example.test", password)).want(t, 429)
	s.reqFrom("[2001:db8:1:3::1]", "POST", "/api/v1/auth/login", loginBody("ivy@example.test", password)).want(t, 200)
}

// TestLoginIPLimitLetsAnOfficeIn: twenty people behind one NAT mistyping their passwords do not
// lock the office out (the default per-IP limit is 100); a configured per-IP limit still holds.
func TestLoginIPLimitLetsAnOfficeIn(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for i := 0; i < 20; i++ {
		email := fmt.Sprintf("staff%d@example.test", i)
		s.user(email)
		s.req("POST", "/api/v1/auth/login", loginBody(email, "typo-"+password)).want(t, 401)
	}
	for i := 0; i < 20; i++ {
		s.req("POST", "/api/v1/auth/login", loginBody(fmt.Sprintf("staff%d@example.test", i), password)).want(t, 200)
	}

	strict := newServer(t, func(c *config.Config) { c.LoginIPMaxFailures = 5 })
	strict.user("lee@example.test")
	for i := 0; i < 5; i++ {
		strict.req("POST", "/api/v1/auth/login", loginBody(fmt.Sprintf("nobody%d@example.test", i), "wrong-password")).want(t, 401)
	}
	wantRetryAfter(t, strict.req("POST", "/api/v1/auth/login", loginBody("lee@example.test", password)), 15*time.Minute)
	strict.reqFrom("203.0.113.9", "POST", "/api/v1/auth/login", loginBody("lee@example.test", password)).want(t, 200)
}

// TestLoginLimitHoldsWithoutRedis: with Redis down, failed sign-ins are counted in the process and
// the limit holds (it used to let every guess through); a correct sign-in still works.
func TestLoginLimitHoldsWithoutRedis(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *config.Config) { c.LoginMaxFailures = 3 })
	if s.Redis.Mini == nil {
		t.Skip("needs miniredis to take Redis down")
	}
	s.user("max@example.test")
	s.Redis.Kill(t)
	for i := 0; i < 3; i++ {
		s.req("POST", "/api/v1/auth/login", loginBody("max@example.test", "guess-"+strconv.Itoa(i))).want(t, 401)
	}
	wantRetryAfter(t, s.req("POST", "/api/v1/auth/login", loginBody("max@example.test", "guess-3")), 15*time.Minute)
	s.reqFrom("203.0.113.1", "POST", "/api/v1/auth/login", loginBody("max@example.test", password)).want(t, 200)
	s.Clock.Advance(15*time.Minute + time.Second) // the in-process window passes by Vane's clock
	s.req("POST", "/api/v1/auth/login", loginBody("max@example.test", password)).want(t, 200)
}

// TestConcurrentRefreshKeepsEveryTabSignedIn: several tabs refreshing the same token at once all
// succeed with the same new refresh token; within the grace the old token keeps yielding it; once
// the grace is over, the old token is reuse and revokes the whole family.
func TestConcurrentRefreshKeepsEveryTabSignedIn(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.user("tab@example.test")
	login := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login", loginBody("tab@example.test", password)).want(t, 200))

	const tabs = 6
	got := make([]response, tabs)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": login.RefreshToken})
		}()
	}
	wg.Wait()
	var next string
	for i, r := range got {
		tok := decode[api.TokenResponse](t, r.want(t, 200))
		if next == "" {
			next = tok.RefreshToken
		}
		if tok.RefreshToken != next || tok.RefreshToken == login.RefreshToken {
			t.Errorf("tab %d got refresh token %q, want the one new token %q", i, tok.RefreshToken, next)
		}
		s.req("GET", "/api/v1/me", nil, "auth", tok.AccessToken).want(t, 200)
	}
	if n := s.count("refresh_tokens", "revoked_at IS NULL"); n != 1 {
		t.Errorf("%d live refresh tokens after concurrent refreshes, want 1", n)
	}

	// Within the grace the old token still yields the same new one.
	s.Clock.Advance(services.RefreshGrace - time.Second)
	again := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/refresh",
		map[string]string{"refresh_token": login.RefreshToken}).want(t, 200))
	if again.RefreshToken != next {
		t.Errorf("refresh within the grace = %q, want %q", again.RefreshToken, next)
	}

	// The new token rotates as usual; the sealed copy of the older successor is gone.
	newest := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/refresh",
		map[string]string{"refresh_token": next}).want(t, 200))
	if n := s.count("refresh_tokens", "successor_secret IS NOT NULL"); n != 1 {
		t.Errorf("%d refresh tokens keep a sealed successor, want only the latest rotated one", n)
	}

	// After the grace the first token is reuse: every token of the family dies.
	s.Clock.Advance(2 * time.Second)
	r := s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": login.RefreshToken}).want(t, 401)
	if msg := r.JSON()["error"].(map[string]any)["message"]; msg != "the refresh token was already used; every session of this login is now signed out" {
		t.Errorf("reuse after the grace says %q", msg)
	}
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": newest.RefreshToken}).want(t, 401)
	if n := s.count("refresh_tokens", "revoked_at IS NULL OR successor_secret IS NOT NULL"); n != 0 {
		t.Errorf("%d refresh tokens still live or keeping a sealed successor after reuse, want 0", n)
	}
}

// TestRefreshGraceEndsWithTheSession: signing out within the grace also ends the old token's
// claim on its successor.
func TestRefreshGraceEndsWithTheSession(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.user("out@example.test")
	login := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/login", loginBody("out@example.test", password)).want(t, 200))
	next := decode[api.TokenResponse](t, s.req("POST", "/api/v1/auth/refresh",
		map[string]string{"refresh_token": login.RefreshToken}).want(t, 200))
	s.req("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": next.RefreshToken}).want(t, 204)
	s.req("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": login.RefreshToken}).want(t, 401)
	if n := s.count("refresh_tokens", "successor_secret IS NOT NULL"); n != 0 {
		t.Errorf("%d refresh tokens keep a sealed successor after logout, want 0", n)
	}
}
