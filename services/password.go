package services

import (
	"context"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// RefreshTTL is how long a refresh token lives (the portal's session cookie lasts as long).
func (a *Auth) RefreshTTL() time.Duration { return a.s.cfg.RefreshTokenTTL }

// ChangePassword replaces the signed-in user's password after checking the current one, signs out
// every session of the user and starts a new one (the returned tokens). A wrong current password is
// a validation error on current_password and counts against the sign-in limits like a failed login.
func (a *Auth) ChangePassword(ctx context.Context, p *Principal, current, next, ip string) (*Tokens, error) {
	if p == nil || p.Kind != PrincipalUser {
		return nil, errs.Forbiddenf("only a signed-in user can change their password")
	}
	u, err := models.UserByID(a.s.db.WithContext(ctx), p.ID)
	if err != nil {
		return nil, err
	}
	var v errs.Validation
	if current == "" {
		v.Add("current_password", "is required")
	}
	validatePassword(&v, "new_password", next, u.Email, deref(u.Username))
	if err := v.Err(); err != nil {
		return nil, err
	}
	limits := a.s.loginLimits("user:"+u.ID, ip)
	if err := limits.begin(ctx); err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return nil, errs.Field("current_password", "is not your current password")
	}
	limits.succeed(ctx)
	hash, err := a.HashPassword(next)
	if err != nil {
		return nil, err
	}
	var t *Tokens
	err = a.s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "users", What: "user", ID: u.ID, Current: u.Version},
			a.s.now(), map[string]any{"password_hash": hash}); err != nil {
			return err
		}
		if err := models.RevokeUserRefreshTokens(tx, u.ID, a.s.now()); err != nil {
			return err
		}
		u.PasswordHash = hash
		t, err = a.issue(tx, u, "")
		return err
	})
	return t, err
}
