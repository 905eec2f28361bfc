package services

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// Orgs manages organisations.
type Orgs struct{ s *Services }

// OrgInput is a new organisation.
type OrgInput struct {
	Name string
	Slug string // derived from Name when empty
}

func (in *OrgInput) validate(v *errs.Validation, prefix string) {
	in.Name = strings.TrimSpace(in.Name)
	in.Slug = strings.TrimSpace(in.Slug)
	if in.Name == "" {
		v.Add(prefix+"name", "is required")
	} else if len(in.Name) > 200 {
		v.Add(prefix+"name", "must be at most 200 characters")
	}
	if in.Slug == "" {
		in.Slug = keys.FromName(in.Name)
		if in.Slug == "" && in.Name != "" {
			v.Add(prefix+"slug", "cannot be derived from the name; give one")
		}
		return
	}
	if p := keys.Problem(in.Slug); p != "" {
		v.Add(prefix+"slug", "%s", p)
	}
}

func orgView(o *models.Organization) map[string]any {
	return map[string]any{"id": o.ID, "slug": o.Slug, "name": o.Name, "version": o.Version}
}

// Create makes an organisation with the caller (a user) as its ADMIN, and the default project with
// its three environments.
func (o *Orgs) Create(ctx context.Context, sc Scope, in OrgInput) (*models.Organization, error) {
	if sc.Principal == nil || sc.Principal.Kind != PrincipalUser {
		return nil, errs.Forbiddenf("only a signed-in user can create an organization")
	}
	var v errs.Validation
	in.validate(&v, "")
	if err := v.Err(); err != nil {
		return nil, err
	}
	var org *models.Organization
	err := o.s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		org, err = o.create(tx, sc, in, sc.Principal.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	o.s.cache.Invalidate(ctx, orgKey(org.Slug), orgKey(org.ID), roleKey(org.ID, sc.Principal.ID))
	return org, nil
}

// create makes the organisation, the admin membership and the default project in tx.
func (o *Orgs) create(tx *gorm.DB, sc Scope, in OrgInput, adminID string) (*models.Organization, error) {
	now := o.s.now()
	org := &models.Organization{ID: models.NewID(), Slug: in.Slug, Name: in.Name, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := models.Create(tx, `organization "`+in.Slug+`"`, org); err != nil {
		return nil, err
	}
	sc.OrgID, sc.OrgSlug = org.ID, org.Slug
	if err := o.s.audit(tx, sc, "organization.created", "organization", org.ID, org.Slug, nil, orgView(org)); err != nil {
		return nil, err
	}
	if adminID != "" {
		m := &models.Membership{ID: models.NewID(), OrgID: org.ID, UserID: adminID, Role: models.RoleAdmin,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := models.Create(tx, "membership", m); err != nil {
			return nil, err
		}
		if err := o.s.audit(tx, sc, "member.added", "member", adminID, sc.Principal.Name, nil,
			map[string]any{"user_id": adminID, "role": m.Role}); err != nil {
			return nil, err
		}
	}
	if _, err := o.s.Projects.create(tx, sc, ProjectInput{Key: "default", Name: "Default"}); err != nil {
		return nil, err
	}
	return org, nil
}

// Get returns the scope's organisation.
func (o *Orgs) Get(ctx context.Context, sc Scope) (*models.Organization, error) {
	return models.OrgByRef(o.s.db.WithContext(ctx), sc.OrgID)
}

// List returns the organisations the principal can see: a user's memberships, an API key's own.
func (o *Orgs) List(ctx context.Context, p *Principal, opt ListOptions) (Page[models.Organization], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.Organization]{}, err
	}
	db := o.s.db.WithContext(ctx)
	var rows []models.Organization
	if p.Kind == PrincipalAPIKey { // a key sees its own organisation: one item, on the first page
		if pg.After == "" {
			org, err := models.OrgByRef(db, p.OrgID)
			if err != nil {
				return Page[models.Organization]{}, err
			}
			rows = append(rows, *org)
		}
	} else if rows, err = models.OrgsOfUser(db, p.ID, pg); err != nil {
		return Page[models.Organization]{}, err
	}
	return paged(rows, pg.Limit, func(o models.Organization) string { return o.ID }), nil
}

// OrgPatch changes an organisation; nil fields stay as they are. The slug is immutable.
type OrgPatch struct {
	Name *string
}

// Update renames the organisation.
func (o *Orgs) Update(ctx context.Context, sc Scope, patch OrgPatch, ifMatch int64) (*models.Organization, error) {
	var v errs.Validation
	if patch.Name != nil {
		n := strings.TrimSpace(*patch.Name)
		if n == "" || len(n) > 200 {
			v.Add("name", "must be 1–200 characters")
		}
		patch.Name = &n
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *models.Organization
	err := o.s.tx(ctx, func(tx *gorm.DB) error {
		before, err := models.OrgByRef(tx, sc.OrgID)
		if err != nil {
			return err
		}
		fields := map[string]any{}
		if patch.Name != nil {
			fields["name"] = *patch.Name
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "organizations", What: "organization", ID: before.ID,
			Expect: ifMatch, Current: before.Version}, o.s.now(), fields); err != nil {
			return err
		}
		if out, err = models.OrgByRef(tx, before.ID); err != nil {
			return err
		}
		return o.s.audit(tx, sc, "organization.updated", "organization", out.ID, out.Slug, orgView(before), orgView(out))
	})
	if err != nil {
		return nil, err
	}
	o.s.cache.Invalidate(ctx, orgKey(out.ID), orgKey(out.Slug)) // this organisation's entries only
	return out, nil
}

// Delete removes the organisation and everything in it. confirm must be its slug.
func (o *Orgs) Delete(ctx context.Context, sc Scope, confirm string) error {
	if confirm != sc.OrgSlug {
		return errs.Field("confirm", "must be the organization's slug (%q) to delete it", sc.OrgSlug)
	}
	var gone []string // the cache entries of this organisation, and only those
	err := o.s.tx(ctx, func(tx *gorm.DB) error {
		org, err := models.OrgByRef(tx, sc.OrgID)
		if err != nil {
			return err
		}
		var hashes []string
		if err := tx.Model(&models.APIKey{}).Where("org_id = ?", sc.OrgID).Pluck("secret_hash", &hashes).Error; err != nil {
			return models.Translate(err, "api keys")
		}
		gone = append(gone[:0], orgKey(org.ID), orgKey(org.Slug), orgRolesPrefix(org.ID))
		for _, h := range hashes {
			gone = append(gone, apiKeyKey(h))
		}
		res := tx.Where("id = ?", sc.OrgID).Delete(&models.Organization{})
		if res.Error != nil {
			return models.Translate(res.Error, "organization")
		}
		if res.RowsAffected == 0 {
			return errs.NotFoundf("organization not found")
		}
		return nil
	})
	if err != nil {
		return err
	}
	o.s.cache.Invalidate(ctx, gone...)
	o.s.keysChanged(ctx, sc.OrgID, "") // its SDK keys stop working
	return nil
}

// Members manages who belongs to an organisation and with which role.
type Members struct{ s *Services }

// List returns the organisation's members.
func (m *Members) List(ctx context.Context, sc Scope, opt ListOptions) (Page[models.Membership], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.Membership]{}, err
	}
	rows, err := models.ListMembers(m.s.db.WithContext(ctx), sc.OrgID, pg)
	if err != nil {
		return Page[models.Membership]{}, err
	}
	return paged(rows, pg.Limit, func(m models.Membership) string { return m.ID }), nil
}

// Get returns one member by user id, membership id or email.
func (m *Members) Get(ctx context.Context, sc Scope, ref string) (*models.Membership, error) {
	return m.find(m.s.db.WithContext(ctx), sc, ref)
}

func (m *Members) find(db *gorm.DB, sc Scope, ref string) (*models.Membership, error) {
	var row models.Membership
	err := db.Preload("User").Where("org_id = ?", sc.OrgID).
		Where("id = ? OR user_id = ? OR user_id IN (?)", ref, ref,
			db.Model(&models.User{}).Select("id").Where("email = ? OR username = ?", strings.ToLower(ref), strings.ToLower(ref))).
		Take(&row).Error
	if err != nil {
		return nil, models.Translate(err, "member")
	}
	return &row, nil
}

func memberView(x *models.Membership) map[string]any {
	v := map[string]any{"user_id": x.UserID, "role": x.Role, "version": x.Version}
	if x.User != nil {
		v["email"] = x.User.Email
	}
	return v
}

// InvitationTTL is how long an invitation token works.
const InvitationTTL = 7 * 24 * time.Hour

// Invite creates a one-time invitation for an email with a role. The token is returned once.
func (m *Members) Invite(ctx context.Context, sc Scope, email, role string) (*models.Invitation, string, error) {
	var v errs.Validation
	email = validateEmail(&v, "email", email)
	if !models.ValidRole(role) {
		v.Add("role", "must be ADMIN, DEVELOPER or VIEWER")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	token := keys.Secret("vit_")
	var inv *models.Invitation
	err := m.s.tx(ctx, func(tx *gorm.DB) error {
		if existing, err := m.find(tx, sc, email); err == nil {
			return errs.Conflictf("%s is already a member with role %s", existing.User.Email, existing.Role)
		} else if !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		now := m.s.now()
		inv = &models.Invitation{ID: models.NewID(), OrgID: sc.OrgID, Email: email, Role: role, TokenHash: keys.Hash(token),
			ExpiresAt: now.Add(InvitationTTL), CreatedAt: now}
		if sc.Principal != nil && sc.Principal.Kind == PrincipalUser {
			inv.InvitedBy = &sc.Principal.ID
		}
		if err := models.Create(tx, "invitation", inv); err != nil {
			return err
		}
		return m.s.audit(tx, sc, "member.invited", "invitation", inv.ID, email, nil,
			map[string]any{"email": email, "role": role, "expires_at": inv.ExpiresAt})
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// Invitations lists pending invitations.
func (m *Members) Invitations(ctx context.Context, sc Scope, opt ListOptions) (Page[models.Invitation], error) {
	pg, err := opt.page(false)
	if err != nil {
		return Page[models.Invitation]{}, err
	}
	rows, err := models.ListInvitations(m.s.db.WithContext(ctx), sc.OrgID, m.s.now(), pg)
	if err != nil {
		return Page[models.Invitation]{}, err
	}
	return paged(rows, pg.Limit, func(i models.Invitation) string { return i.ID }), nil
}

// RevokeInvitation deletes a pending invitation.
func (m *Members) RevokeInvitation(ctx context.Context, sc Scope, id string) error {
	return m.s.tx(ctx, func(tx *gorm.DB) error {
		inv, err := models.InvitationByID(tx, sc.OrgID, id)
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", inv.ID).Delete(&models.Invitation{}).Error; err != nil {
			return models.Translate(err, "invitation")
		}
		return m.s.audit(tx, sc, "member.invitation_revoked", "invitation", inv.ID, inv.Email,
			map[string]any{"email": inv.Email, "role": inv.Role}, nil)
	})
}

// ensureAdminRemains refuses a change that would leave the organisation without an ADMIN.
func (m *Members) ensureAdminRemains(tx *gorm.DB, sc Scope, target *models.Membership) error {
	if target.Role != models.RoleAdmin {
		return nil
	}
	n, err := models.CountAdmins(tx, sc.OrgID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return errs.Conflictf("%s is the last ADMIN of this organization; make someone else ADMIN first", target.User.Email)
	}
	return nil
}

// UpdateRole changes a member's role. The last ADMIN cannot be demoted.
func (m *Members) UpdateRole(ctx context.Context, sc Scope, ref, role string, ifMatch int64) (*models.Membership, error) {
	if !models.ValidRole(role) {
		return nil, errs.Field("role", "must be ADMIN, DEVELOPER or VIEWER")
	}
	var out *models.Membership
	err := m.s.tx(ctx, func(tx *gorm.DB) error {
		if err := models.LockOrg(tx, sc.OrgID); err != nil {
			return err
		}
		before, err := m.find(tx, sc, ref)
		if err != nil {
			return err
		}
		if role != models.RoleAdmin {
			if err := m.ensureAdminRemains(tx, sc, before); err != nil {
				return err
			}
		}
		if _, err := models.UpdateVersioned(tx, models.Versioned{Table: "memberships", What: "member", OrgID: sc.OrgID,
			ID: before.ID, Expect: ifMatch, Current: before.Version}, m.s.now(), map[string]any{"role": role}); err != nil {
			return err
		}
		if out, err = m.find(tx, sc, before.ID); err != nil {
			return err
		}
		return m.s.audit(tx, sc, "member.role_changed", "member", out.UserID, out.User.Email, memberView(before), memberView(out))
	})
	if err != nil {
		return nil, err
	}
	m.s.cache.Invalidate(ctx, roleKey(sc.OrgID, out.UserID))
	return out, nil
}

// Remove takes a member out of the organisation. The last ADMIN cannot be removed.
func (m *Members) Remove(ctx context.Context, sc Scope, ref string) error {
	var userID string
	err := m.s.tx(ctx, func(tx *gorm.DB) error {
		if err := models.LockOrg(tx, sc.OrgID); err != nil {
			return err
		}
		before, err := m.find(tx, sc, ref)
		if err != nil {
			return err
		}
		if err := m.ensureAdminRemains(tx, sc, before); err != nil {
			return err
		}
		if err := tx.Where("id = ?", before.ID).Delete(&models.Membership{}).Error; err != nil {
			return models.Translate(err, "member")
		}
		userID = before.UserID
		return m.s.audit(tx, sc, "member.removed", "member", before.UserID, before.User.Email, memberView(before), nil)
	})
	if err != nil {
		return err
	}
	m.s.cache.Invalidate(ctx, roleKey(sc.OrgID, userID))
	return nil
}
