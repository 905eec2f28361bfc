package services

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// Auth signs users in and out, issues and checks tokens, and resolves credentials to principals.
type Auth struct {
	s         *Services
	dummyHash []byte // compared against when the user does not exist, so both failures cost the same
	// local are the rate-limit counters (sign-ins, sign-ups, invitations, rateLimit) kept in this
	// process while Redis cannot be reached.
	local localCounters
	// clean are the addresses recently found under the refused-API-key limit.
	clean cleanAddresses
	// tokens are the access tokens verified already.
	tokens verifiedTokens
}

func mustDummyHash(cost int) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("vane-timing-equaliser"), cost)
	if err != nil {
		panic(err)
	}
	return h
}

// Tokens is what a successful login, signup or refresh returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int64 // seconds until the access token expires
	User         *models.User
	refreshID    string
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	Email string `json:"email,omitempty"`
	jwt.RegisteredClaims
}

func (a *Auth) audience() string { return a.s.cfg.JWTIssuer + "-api" }

// HashPassword hashes a password with bcrypt at the configured cost.
func (a *Auth) HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), a.s.cfg.BcryptCost)
	return string(h), err
}

func validateEmail(v *errs.Validation, field, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		v.Add(field, "is required")
		return email
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		v.Add(field, "must be an email address like name@example.com")
	}
	return email
}

func validateUsername(v *errs.Validation, field string, u *string) *string {
	if u == nil {
		return nil
	}
	name := strings.ToLower(strings.TrimSpace(*u))
	if !validUsername(name) || strings.Contains(name, "@") {
		v.Add(field, "must be 1–64 lowercase letters, digits, '.', '-' or '_'")
	}
	return &name
}

func validUsername(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// deref is the string p points to, or "".
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// newUser is a new user row with a hashed password.
func newUser(email string, username *string, name, hash string, now time.Time) *models.User {
	return &models.User{ID: models.NewID(), Email: email, Username: username, Name: strings.TrimSpace(name),
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now, Version: 1}
}

// accessToken signs a new access token for u.
func (a *Auth) accessToken(u *models.User) (string, error) {
	now := a.s.now()
	claims := accessClaims{
		Email: u.Email,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.s.cfg.JWTIssuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{a.audience()},
			ExpiresAt: jwt.NewNumericDate(now.Add(a.s.cfg.AccessTokenTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        models.NewID(),
		},
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.s.cfg.JWTSecret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return access, nil
}

// issue makes a new access token and a refresh token of family (a new family when empty), in tx.
func (a *Auth) issue(tx *gorm.DB, u *models.User, family string) (*Tokens, error) {
	if family == "" {
		family = models.NewID()
	}
	return a.issueAs(tx, u, family, models.NewID(), keys.Secret("vrt_"))
}

// issueAs stores the refresh token secret with id in family and signs an access token to go with it.
func (a *Auth) issueAs(tx *gorm.DB, u *models.User, family, id, secret string) (*Tokens, error) {
	access, err := a.accessToken(u)
	if err != nil {
		return nil, err
	}
	now := a.s.now()
	rt := models.RefreshToken{ID: id, UserID: u.ID, FamilyID: family, TokenHash: keys.Hash(secret),
		ExpiresAt: now.Add(a.s.cfg.RefreshTokenTTL), CreatedAt: now}
	if err := models.Create(tx, "refresh token", &rt); err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: secret, ExpiresIn: int64(a.s.cfg.AccessTokenTTL / time.Second),
		User: u, refreshID: rt.ID}, nil
}

// ParseAccessToken checks an access token's signature (HS256 only), issuer, audience and times,
// and returns the principal it names. It touches no database.
func (a *Auth) ParseAccessToken(raw string) (*Principal, error) {
	now := a.s.clock.Now()
	if p, ok := a.tokens.get(raw, now); ok {
		return p, nil
	}
	var c accessClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return a.s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(a.s.cfg.JWTIssuer),
		jwt.WithAudience(a.audience()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.s.clock.Now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, errs.Unauthorizedf("the access token has expired; refresh it")
		}
		return nil, errs.Unauthorizedf("the access token is not valid")
	}
	if c.Subject == "" {
		return nil, errs.Unauthorizedf("the access token is not valid")
	}
	p := Principal{Kind: PrincipalUser, ID: c.Subject, Name: c.Email, Email: c.Email}
	a.tokens.put(raw, p, c.ExpiresAt.Time)
	return &p, nil
}

// verifiedTokens remembers access tokens already verified, until they expire: a signed token's
// answer cannot change before then (access tokens are not revocable; they are short-lived), so a
// client's next request skips the signature and claims checks.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	p   Principal
	exp time.Time
}

// maxVerifiedTokens bounds the tokens remembered; past it they are forgotten at once.
const maxVerifiedTokens = 10000

func (v *verifiedTokens) get(raw string, now time.Time) (*Principal, bool) {
	v.mu.Lock()
	t, ok := v.m[raw]
	v.mu.Unlock()
	if !ok || !now.Before(t.exp) {
		return nil, false
	}
	p := t.p // a copy: callers may change theirs
	return &p, true
}

func (v *verifiedTokens) put(raw string, p Principal, exp time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[string]verifiedToken)
	}
	v.m[raw] = verifiedToken{p: p, exp: exp}
}

// Login checks a username or email and password. Unknown users and wrong passwords get the same
// answer after the same bcrypt work. Failures are limited per account and client IP, per account
// and per client IP (loginLimits); username and email of one account share its counters.
func (a *Auth) Login(ctx context.Context, login, password, ip string) (*Tokens, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	if login == "" {
		return nil, errs.Field("username", "username or email is required")
	}
	if password == "" {
		return nil, errs.Field("password", "is required")
	}
	u, err := models.UserByLogin(a.s.db.WithContext(ctx), login)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return nil, err
	}
	subject, hash := "login:"+login, a.dummyHash
	if u != nil {
		subject, hash = "user:"+u.ID, []byte(u.PasswordHash)
	}
	limits := a.s.loginLimits(subject, ip)
	if err := limits.begin(ctx); err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u == nil {
		return nil, errs.Unauthorizedf("invalid username or password")
	}
	limits.succeed(ctx)
	var t *Tokens
	err = a.s.tx(ctx, func(tx *gorm.DB) error {
		t, err = a.issue(tx, u, "")
		return err
	})
	return t, err
}

// errRefreshRace means a concurrent refresh of the same token committed first; Refresh retries and
// then finds the token rotated, within its grace.
var errRefreshRace = errors.New("refresh token rotated concurrently")

// Refresh exchanges a refresh token for a new pair. Each refresh token rotates once; presented
// again within RefreshGrace (two tabs refreshing at once) it yields the same new refresh token and
// a fresh access token. Presented later it has leaked, so the whole family is revoked.
func (a *Auth) Refresh(ctx context.Context, raw string) (*Tokens, error) {
	if raw == "" {
		return nil, errs.Field("refresh_token", "is required")
	}
	for attempt := 1; attempt <= 3; attempt++ {
		t, err := a.refresh(ctx, raw)
		if !errors.Is(err, errRefreshRace) {
			return t, err
		}
	}
	return nil, errs.Unauthorizedf("the refresh token is not valid")
}

func (a *Auth) refresh(ctx context.Context, raw string) (*Tokens, error) {
	invalid := errs.Unauthorizedf("the refresh token is not valid")
	var (
		t      *Tokens
		reused bool
	)
	err := a.s.tx(ctx, func(tx *gorm.DB) error {
		rt, err := models.RefreshTokenByHash(tx, keys.Hash(raw))
		if errors.Is(err, errs.ErrNotFound) {
			return invalid
		} else if err != nil {
			return err
		}
		now := a.s.now()
		if rt.RevokedAt != nil {
			if rt.ReplacedBy == nil { // signed out or revoked
				return invalid
			}
			if now.Before(rt.RevokedAt.Add(RefreshGrace)) {
				t, err = a.successorInGrace(tx, rt, invalid)
				return err
			}
			reused = true // a used token again, after the grace: someone else has it
			return models.RevokeRefreshFamily(tx, rt.FamilyID, now)
		}
		if !now.Before(rt.ExpiresAt) {
			return invalid
		}
		u, err := models.UserByID(tx, rt.UserID)
		if err != nil {
			return invalid
		}
		// Claim the token first: a concurrent refresh of it waits here and then finds it rotated.
		nextID, secret := models.NewID(), keys.Secret("vrt_")
		sealed, err := a.sealSuccessor(rt.ID, secret)
		if err != nil {
			return err
		}
		ok, err := models.RotateRefreshToken(tx, rt.ID, nextID, sealed, now)
		if err != nil {
			return err
		}
		if !ok {
			return errRefreshRace
		}
		if err := models.ClearRefreshSuccessors(tx, rt.FamilyID, rt.ID); err != nil {
			return err
		}
		t, err = a.issueAs(tx, u, rt.FamilyID, nextID, secret)
		return err
	})
	if reused {
		a.s.log.WarnContext(ctx, "refresh token reused; token family revoked")
		return nil, errs.Unauthorizedf("the refresh token was already used; every session of this login is now signed out")
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Logout revokes the refresh token's whole family. An unknown token is not an error: the client is
// signed out either way.
func (a *Auth) Logout(ctx context.Context, raw string) error {
	if raw == "" {
		return errs.Field("refresh_token", "is required")
	}
	rt, err := models.RefreshTokenByHash(a.s.db.WithContext(ctx), keys.Hash(raw))
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return models.RevokeRefreshFamily(a.s.db.WithContext(ctx), rt.FamilyID, a.s.now())
}

// SignupInput is a new user and the organisation they will administer.
type SignupInput struct {
	Email            string
	Username         *string
	Name             string
	Password         string
	OrganizationName string
	OrganizationSlug string
}

// Signup creates a user, a new organisation with its default project and environments, and makes
// the user its ADMIN, then signs them in. Each client IP may sign up VANE_SIGNUP_MAX_PER_IP times
// an hour (attempts refused as invalid do not count).
func (a *Auth) Signup(ctx context.Context, in SignupInput, ip string) (*Tokens, *models.Organization, error) {
	if !a.s.cfg.AllowSignup {
		return nil, nil, errs.Forbiddenf("sign-up is disabled on this server; ask an administrator for an invitation")
	}
	var v errs.Validation
	email := validateEmail(&v, "email", in.Email)
	username := validateUsername(&v, "username", in.Username)
	validatePassword(&v, "password", in.Password, email, deref(username))
	orgIn := OrgInput{Name: in.OrganizationName, Slug: in.OrganizationSlug}
	if orgIn.Name == "" {
		orgIn.Name = email
		if at := strings.IndexByte(email, '@'); at > 0 {
			orgIn.Name = email[:at]
		}
	}
	orgIn.validate(&v, "organization.")
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if err := a.s.limitPerIP(ctx, "signup", ip, int64(a.s.cfg.SignupMaxPerIP), time.Hour,
		"too many sign-ups from this address; try again later"); err != nil {
		return nil, nil, err
	}
	hash, err := a.HashPassword(in.Password)
	if err != nil {
		return nil, nil, err
	}
	var (
		t   *Tokens
		org *models.Organization
	)
	err = a.s.tx(ctx, func(tx *gorm.DB) error {
		now := a.s.now()
		u := newUser(email, username, in.Name, hash, now)
		if err := models.Create(tx, "a user with this email or username", u); err != nil {
			return err
		}
		sc := Scope{Principal: &Principal{Kind: PrincipalUser, ID: u.ID, Name: u.Email}, IP: ip}
		if org, err = a.s.Orgs.create(tx, sc, orgIn, u.ID); err != nil {
			return err
		}
		t, err = a.issue(tx, u, "")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return t, org, nil
}

// AcceptInviteInput redeems an invitation. For an email without an account the new user sets
// Password (and may choose Username and Name). An email that already has an account accepts while
// signed in as that account (Caller); its password is never taken here.
type AcceptInviteInput struct {
	Token    string
	Password string
	Username *string
	Name     string
	// Caller is who the request's credential names, nil when it carries none.
	Caller *Principal
}

// inviteTokenMaxAttempts is how often one invitation token may be presented per VANE_LOGIN_WINDOW.
const inviteTokenMaxAttempts = 10

// AcceptInvite turns an invitation into a membership (creating the user if needed) and signs in.
// Calls are limited per client IP (VANE_INVITE_ACCEPT_MAX_PER_IP) and per invitation token.
func (a *Auth) AcceptInvite(ctx context.Context, in AcceptInviteInput, ip string) (*Tokens, *models.Organization, error) {
	var v errs.Validation
	if in.Token == "" {
		v.Add("token", "is required")
	}
	username := validateUsername(&v, "username", in.Username)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	const busy = "too many attempts to accept an invitation; try again later"
	if err := a.s.limitPerIP(ctx, "invite-accept", ip, int64(a.s.cfg.InviteAcceptMaxPerIP), a.s.cfg.LoginWindow, busy); err != nil {
		return nil, nil, err
	}
	if err := a.s.limit(ctx, "invite-accept:token:"+keys.Hash(in.Token), inviteTokenMaxAttempts, a.s.cfg.LoginWindow, busy); err != nil {
		return nil, nil, err
	}
	inv, err := models.InvitationByTokenHash(a.s.db.WithContext(ctx), keys.Hash(in.Token))
	if errors.Is(err, errs.ErrNotFound) {
		return nil, nil, errs.NotFoundf("invitation not found, already used or expired")
	} else if err != nil {
		return nil, nil, err
	}
	if inv.AcceptedAt != nil || !a.s.now().Before(inv.ExpiresAt) {
		return nil, nil, errs.NotFoundf("invitation not found, already used or expired")
	}
	if in.Caller != nil && in.Caller.Kind != PrincipalUser {
		return nil, nil, errs.Forbiddenf("an invitation is accepted by the invited user, not by an API key")
	}
	existing, err := models.UserByEmail(a.s.db.WithContext(ctx), inv.Email)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return nil, nil, err
	}
	hash := ""
	switch {
	case existing != nil && in.Password != "":
		return nil, nil, errs.Field("password", "this email already has an account, whose password is not taken here: "+
			"sign in as that account and accept the invitation while signed in (Authorization: Bearer), without a password")
	case existing != nil && in.Caller == nil:
		return nil, nil, errs.Unauthorizedf("this email already has an account: sign in as it, then accept the invitation while signed in")
	case existing != nil && in.Caller.ID != existing.ID:
		return nil, nil, errs.Forbiddenf("this invitation is for another account than the one signed in")
	case existing == nil && in.Caller != nil:
		return nil, nil, errs.Forbiddenf("this invitation is for an email without an account: sign out, then accept it to create that account")
	case existing == nil:
		if in.Password == "" {
			v.Add("password", "is required to create your account")
		} else {
			validatePassword(&v, "password", in.Password, inv.Email, deref(username))
		}
		if err := v.Err(); err != nil {
			return nil, nil, err
		}
		if hash, err = a.HashPassword(in.Password); err != nil {
			return nil, nil, err
		}
	}
	var (
		t   *Tokens
		org *models.Organization
	)
	err = a.s.tx(ctx, func(tx *gorm.DB) error {
		now := a.s.now()
		ok, err := models.MarkInvitationAccepted(tx, inv.ID, now)
		if err != nil {
			return err
		}
		if !ok {
			return errs.NotFoundf("invitation not found, already used or expired")
		}
		u := existing
		if u == nil {
			u = newUser(inv.Email, username, in.Name, hash, now)
			if err := models.Create(tx, "a user with this username", u); err != nil {
				return err
			}
		}
		if org, err = models.OrgByRef(tx, inv.OrgID); err != nil {
			return err
		}
		m := &models.Membership{ID: models.NewID(), OrgID: inv.OrgID, UserID: u.ID, Role: inv.Role,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := models.Create(tx, "membership", m); err != nil {
			return err
		}
		sc := Scope{OrgID: inv.OrgID, Principal: &Principal{Kind: PrincipalUser, ID: u.ID, Name: u.Email}, IP: ip}
		if err := a.s.audit(tx, sc, "invitation.accepted", "member", u.ID, u.Email, nil,
			map[string]any{"email": u.Email, "role": m.Role}); err != nil {
			return err
		}
		t, err = a.issue(tx, u, "")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	a.s.cache.Invalidate(ctx, roleKey(inv.OrgID, t.User.ID))
	return t, org, nil
}

// SetPassword replaces a user's password and signs out every session (admin CLI).
func (a *Auth) SetPassword(ctx context.Context, login, password string) error {
	u, err := models.UserByLogin(a.s.db.WithContext(ctx), login)
	if err != nil {
		return err
	}
	var v errs.Validation
	validatePassword(&v, "password", password, u.Email, deref(u.Username))
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := a.HashPassword(password)
	if err != nil {
		return err
	}
	return a.s.tx(ctx, func(tx *gorm.DB) error {
		_, err := models.UpdateVersioned(tx, models.Versioned{Table: "users", What: "user", ID: u.ID, Current: u.Version},
			a.s.now(), map[string]any{"password_hash": hash})
		if err != nil {
			return err
		}
		return models.RevokeUserRefreshTokens(tx, u.ID, a.s.now())
	})
}

// CreateUser makes a user without any membership (admin CLI).
func (a *Auth) CreateUser(ctx context.Context, email string, username *string, name, password string) (*models.User, error) {
	var v errs.Validation
	email = validateEmail(&v, "email", email)
	username = validateUsername(&v, "username", username)
	validatePassword(&v, "password", password, email, deref(username))
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := a.HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := newUser(email, username, name, hash, a.s.now())
	return u, models.Create(a.s.db.WithContext(ctx), "a user with this email or username", u)
}

// Me is the signed-in user and their memberships.
type Me struct {
	User        *models.User
	Memberships []MembershipView
}

// MembershipView is one organisation a user belongs to, with the role.
type MembershipView struct {
	Org  models.Organization
	Role string
}

// Me returns a user and the organisations they belong to.
func (a *Auth) Me(ctx context.Context, userID string) (*Me, error) {
	db := a.s.db.WithContext(ctx)
	u, err := models.UserByID(db, userID)
	if err != nil {
		return nil, errs.Unauthorizedf("this account no longer exists")
	}
	ms, err := models.MembershipsOfUser(db, userID)
	if err != nil {
		return nil, err
	}
	out := &Me{User: u, Memberships: []MembershipView{}}
	for _, m := range ms {
		o, err := models.OrgByRef(db, m.OrgID)
		if err != nil {
			return nil, err
		}
		out.Memberships = append(out.Memberships, MembershipView{Org: *o, Role: m.Role})
	}
	return out, nil
}
