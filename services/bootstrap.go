package services

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// BootstrapResult says what Bootstrap made. Password is set only when it was generated.
type BootstrapResult struct {
	Created  bool
	Email    string
	Username string
	Password string
}

// Bootstrap prepares an empty database: organisation "default" with project "default" and its
// development/staging/production environments, and an ADMIN. On a database that has users it does
// nothing, so it is safe on every start (and when two nodes start at once: one wins the unique slug).
func (s *Services) Bootstrap(ctx context.Context) (*BootstrapResult, error) {
	n, err := models.CountUsers(s.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return &BootstrapResult{}, nil
	}
	res := &BootstrapResult{Created: true, Email: s.cfg.AdminEmail, Username: "admin", Password: ""}
	password := s.cfg.AdminPassword
	if password == "" {
		password = keys.Random(20)
		res.Password = password
	} else {
		var v errs.Validation
		validatePassword(&v, "VANE_ADMIN_PASSWORD", password, res.Email, res.Username)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	hash, err := s.Auth.HashPassword(password)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		username := res.Username
		u := newUser(res.Email, &username, "Administrator", hash, s.now())
		if err := models.Create(tx, "admin user", u); err != nil {
			return err
		}
		sc := Scope{Principal: &Principal{Kind: PrincipalSystem, Name: "bootstrap"}}
		_, err := s.Orgs.create(tx, sc, OrgInput{Slug: "default", Name: "Default"}, u.ID)
		return err
	})
	if errors.Is(err, errs.ErrConflict) {
		return &BootstrapResult{}, nil // another node bootstrapped first
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
