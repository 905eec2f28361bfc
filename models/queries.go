package models

import (
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/vanehq/vane/internal/errs"
)

// first loads one row matching the conditions, translating "no row" into not found.
func first[T any](db *gorm.DB, what string, query string, args ...any) (*T, error) {
	var row T
	if err := db.Where(query, args...).Take(&row).Error; err != nil {
		return nil, Translate(err, what)
	}
	return &row, nil
}

// Create inserts a row, translating unique and foreign-key violations.
func Create(db *gorm.DB, what string, row any) error {
	return Translate(db.Create(row).Error, what)
}

// Versioned identifies a row that carries an optimistic-concurrency version.
type Versioned struct {
	Table   string // table name
	What    string // for messages: `project "web"`
	OrgID   string // empty for the organizations table itself
	ID      string
	Expect  int64 // the If-Match version; 0 means unconditional
	Current int64 // the version the caller loaded
}

// UpdateVersioned applies fields to one row, bumps its version and updated_at, and refuses with 412
// when the row's version is no longer the expected one (checked again inside the UPDATE, so two
// writers racing each other cannot both win).
func UpdateVersioned(db *gorm.DB, v Versioned, now time.Time, fields map[string]any) (int64, error) {
	if v.Expect > 0 && v.Expect != v.Current {
		return 0, errs.StaleVersion(v.What, v.Current)
	}
	fields["version"] = gorm.Expr("version + 1")
	fields["updated_at"] = now
	q := db.Table(v.Table).Where("id = ?", v.ID)
	if v.OrgID != "" {
		q = q.Where("org_id = ?", v.OrgID)
	}
	res := q.Where("version = ?", v.Current).Updates(fields)
	if res.Error != nil {
		return 0, Translate(res.Error, v.What)
	}
	if res.RowsAffected == 0 {
		var cur struct{ Version int64 }
		if err := db.Table(v.Table).Select("version").Where("id = ?", v.ID).Take(&cur).Error; err != nil {
			return 0, Translate(err, v.What)
		}
		return 0, errs.StaleVersion(v.What, cur.Version)
	}
	return v.Current + 1, nil
}

// LockOrg serialises writers that must see a consistent view of one organisation (the last-admin
// rule). Postgres takes a row lock; SQLite transactions are already exclusive (_txlock=immediate).
func LockOrg(tx *gorm.DB, orgID string) error {
	if tx.Name() != "postgres" {
		return nil
	}
	var o Organization
	return Translate(tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", orgID).Take(&o).Error, "organization")
}

// LockProject serialises the writes to one project's configuration (flags, their configurations,
// segments, rollout plans). Every such transaction takes it before reading what it will change, so
// the rows it locks afterwards (plan, configuration, environments) are always taken in one order
// and no check it makes can be invalidated by a concurrent writer (a segment deleted while a rule
// that uses it is saved). Postgres takes a FOR NO KEY UPDATE row lock, which still lets other
// transactions insert rows that refer to the project; SQLite write transactions are exclusive already.
func LockProject(tx *gorm.DB, orgID, projectID string) error {
	if tx.Name() != "postgres" {
		return nil
	}
	var ids []string
	err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Model(&Project{}).
		Where("org_id = ? AND id = ?", orgID, projectID).Pluck("id", &ids).Error
	if err == nil && len(ids) == 0 {
		return errs.NotFoundf("project not found")
	}
	return Translate(err, "project")
}

// Retryable reports whether err ended a transaction that can simply run again: Postgres broke a
// deadlock (40P01) or refused a serialization conflict (40001).
func Retryable(err error) bool {
	var pg interface{ SQLState() string }
	if !errors.As(err, &pg) {
		return false
	}
	code := pg.SQLState()
	return code == "40P01" || code == "40001"
}

// ---- organisations

// OrgByRef finds an organisation by slug or id.
func OrgByRef(db *gorm.DB, ref string) (*Organization, error) {
	return first[Organization](db, "organization", "slug = ? OR id = ?", strings.ToLower(ref), ref)
}

// OrgsOfUser lists the organisations a user belongs to.
func OrgsOfUser(db *gorm.DB, userID string, p Page) ([]Organization, error) {
	var rows []Organization
	q := db.Where("id IN (?)", db.Model(&Membership{}).Select("org_id").Where("user_id = ?", userID))
	err := p.apply(q, "id", false).Find(&rows).Error
	return rows, Translate(err, "organizations")
}

// CountUsers counts all users (bootstrap runs only on an empty database).
func CountUsers(db *gorm.DB) (int64, error) {
	var n int64
	err := db.Model(&User{}).Count(&n).Error
	return n, Translate(err, "users")
}

// ---- users

// UserByLogin finds a user by username or email (both compared lowercased).
func UserByLogin(db *gorm.DB, login string) (*User, error) {
	l := strings.ToLower(strings.TrimSpace(login))
	return first[User](db, "user", "email = ? OR username = ?", l, l)
}

// UserByID finds a user by id.
func UserByID(db *gorm.DB, id string) (*User, error) {
	return first[User](db, "user", "id = ?", id)
}

// UserByEmail finds a user by email.
func UserByEmail(db *gorm.DB, email string) (*User, error) {
	return first[User](db, "user", "email = ?", strings.ToLower(email))
}

// ---- memberships

// MembershipsOfUser lists a user's memberships in every organisation.
func MembershipsOfUser(db *gorm.DB, userID string) ([]Membership, error) {
	var rows []Membership
	err := db.Where("user_id = ?", userID).Order("id").Find(&rows).Error
	return rows, Translate(err, "memberships")
}

// MembershipOf finds a user's membership in an organisation.
func MembershipOf(db *gorm.DB, orgID, userID string) (*Membership, error) {
	var m Membership
	err := db.Preload("User").Where("org_id = ? AND user_id = ?", orgID, userID).Take(&m).Error
	if err != nil {
		return nil, Translate(err, "member")
	}
	return &m, nil
}

// ListMembers lists an organisation's members with their users.
func ListMembers(db *gorm.DB, orgID string, p Page) ([]Membership, error) {
	var rows []Membership
	err := p.apply(db.Preload("User").Where("org_id = ?", orgID), "id", false).Find(&rows).Error
	return rows, Translate(err, "members")
}

// CountAdmins counts an organisation's admins.
func CountAdmins(db *gorm.DB, orgID string) (int64, error) {
	var n int64
	err := db.Model(&Membership{}).Where("org_id = ? AND role = ?", orgID, RoleAdmin).Count(&n).Error
	return n, Translate(err, "members")
}

// ---- invitations

// InvitationByTokenHash finds an invitation by the hash of its token.
func InvitationByTokenHash(db *gorm.DB, hash string) (*Invitation, error) {
	return first[Invitation](db, "invitation", "token_hash = ?", hash)
}

// ListInvitations lists an organisation's pending (not accepted, not expired) invitations.
func ListInvitations(db *gorm.DB, orgID string, now time.Time, p Page) ([]Invitation, error) {
	var rows []Invitation
	q := db.Where("org_id = ? AND accepted_at IS NULL AND expires_at > ?", orgID, now)
	err := p.apply(q, "id", false).Find(&rows).Error
	return rows, Translate(err, "invitations")
}

// InvitationByID finds an organisation's invitation.
func InvitationByID(db *gorm.DB, orgID, id string) (*Invitation, error) {
	return first[Invitation](db, "invitation", "org_id = ? AND id = ?", orgID, id)
}

// MarkInvitationAccepted accepts an invitation once; a second acceptance finds nothing to update.
func MarkInvitationAccepted(db *gorm.DB, id string, now time.Time) (bool, error) {
	res := db.Model(&Invitation{}).Where("id = ? AND accepted_at IS NULL", id).Update("accepted_at", now)
	return res.RowsAffected == 1, Translate(res.Error, "invitation")
}

// ---- refresh tokens

// RefreshTokenByHash finds a refresh token by the hash of its secret.
func RefreshTokenByHash(db *gorm.DB, hash string) (*RefreshToken, error) {
	return first[RefreshToken](db, "refresh token", "token_hash = ?", hash)
}

// RefreshTokenByID finds a refresh token by id.
func RefreshTokenByID(db *gorm.DB, id string) (*RefreshToken, error) {
	return first[RefreshToken](db, "refresh token", "id = ?", id)
}

// RotateRefreshToken marks a token used and replaced by replacedBy, keeping the replacement's
// secret sealed on it (successor_secret) for the short grace in which the same token may come
// again; false when someone used it first.
func RotateRefreshToken(db *gorm.DB, id, replacedBy, sealedSuccessor string, now time.Time) (bool, error) {
	res := db.Model(&RefreshToken{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": now, "replaced_by": replacedBy, "successor_secret": sealedSuccessor})
	return res.RowsAffected == 1, Translate(res.Error, "refresh token")
}

// RefreshSuccessorSecret returns the sealed successor secret kept on a rotated token ("" when
// there is none or it was cleared).
func RefreshSuccessorSecret(db *gorm.DB, id string) (string, error) {
	var row struct{ SuccessorSecret *string }
	if err := db.Table("refresh_tokens").Select("successor_secret").Where("id = ?", id).Take(&row).Error; err != nil {
		return "", Translate(err, "refresh token")
	}
	if row.SuccessorSecret == nil {
		return "", nil
	}
	return *row.SuccessorSecret, nil
}

// ClearRefreshSuccessors forgets the sealed successor secrets of a family's tokens, except keep's.
func ClearRefreshSuccessors(db *gorm.DB, familyID, keep string) error {
	return Translate(db.Model(&RefreshToken{}).Where("family_id = ? AND id <> ? AND successor_secret IS NOT NULL", familyID, keep).
		Update("successor_secret", nil).Error, "refresh tokens")
}

// RevokeRefreshFamily revokes every live token of a family and forgets its successor secrets.
func RevokeRefreshFamily(db *gorm.DB, familyID string, now time.Time) error {
	if err := db.Model(&RefreshToken{}).Where("family_id = ? AND revoked_at IS NULL", familyID).
		Update("revoked_at", now).Error; err != nil {
		return Translate(err, "refresh tokens")
	}
	return ClearRefreshSuccessors(db, familyID, "")
}

// RevokeUserRefreshTokens revokes every live refresh token of a user and forgets their successor secrets.
func RevokeUserRefreshTokens(db *gorm.DB, userID string, now time.Time) error {
	if err := db.Model(&RefreshToken{}).Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", now).Error; err != nil {
		return Translate(err, "refresh tokens")
	}
	return Translate(db.Model(&RefreshToken{}).Where("user_id = ? AND successor_secret IS NOT NULL", userID).
		Update("successor_secret", nil).Error, "refresh tokens")
}

// PruneRefreshTokens deletes tokens that expired before cutoff (they can never be used again) and
// forgets successor secrets of tokens rotated before cutoff (their grace is long over).
func PruneRefreshTokens(db *gorm.DB, cutoff time.Time) (int64, error) {
	if err := db.Model(&RefreshToken{}).Where("successor_secret IS NOT NULL AND revoked_at < ?", cutoff).
		Update("successor_secret", nil).Error; err != nil {
		return 0, Translate(err, "refresh tokens")
	}
	res := db.Where("expires_at < ?", cutoff).Delete(&RefreshToken{})
	return res.RowsAffected, Translate(res.Error, "refresh tokens")
}

// ---- projects and environments

// ProjectByRef finds an organisation's project by key or id.
func ProjectByRef(db *gorm.DB, orgID, ref string) (*Project, error) {
	return first[Project](db, "project", "org_id = ? AND (key = ? OR id = ?)", orgID, strings.ToLower(ref), ref)
}

// ListProjects lists an organisation's projects; onlyID restricts to one (a project-bound key).
func ListProjects(db *gorm.DB, orgID, onlyID string, p Page) ([]Project, error) {
	var rows []Project
	q := db.Where("org_id = ?", orgID)
	if onlyID != "" {
		q = q.Where("id = ?", onlyID)
	}
	err := p.apply(q, "id", false).Find(&rows).Error
	return rows, Translate(err, "projects")
}

// EnvironmentByRef finds a project's environment by key or id.
func EnvironmentByRef(db *gorm.DB, orgID, projectID, ref string) (*Environment, error) {
	return first[Environment](db, "environment", "org_id = ? AND project_id = ? AND (key = ? OR id = ?)",
		orgID, projectID, strings.ToLower(ref), ref)
}

// EnvironmentByID finds an organisation's environment by id.
func EnvironmentByID(db *gorm.DB, orgID, id string) (*Environment, error) {
	return first[Environment](db, "environment", "org_id = ? AND id = ?", orgID, id)
}

// ListEnvironments lists a project's environments; onlyID restricts to one (an environment-bound key).
func ListEnvironments(db *gorm.DB, orgID, projectID, onlyID string, p Page) ([]Environment, error) {
	var rows []Environment
	q := db.Where("org_id = ? AND project_id = ?", orgID, projectID)
	if onlyID != "" {
		q = q.Where("id = ?", onlyID)
	}
	err := p.apply(q, "id", false).Find(&rows).Error
	return rows, Translate(err, "environments")
}

// ---- SDK keys

// SDKKeysOf lists the keys of environments that still work at now (current ones and those in grace).
func SDKKeysOf(db *gorm.DB, orgID string, envIDs []string, now time.Time) ([]SDKKey, error) {
	var rows []SDKKey
	err := db.Where("org_id = ? AND environment_id IN ? AND (expires_at IS NULL OR expires_at > ?)", orgID, envIDs, now).
		Order("id").Find(&rows).Error
	return rows, Translate(err, "sdk keys")
}

// SDKKeyByKey finds an SDK key by its value.
func SDKKeyByKey(db *gorm.DB, key string) (*SDKKey, error) {
	return first[SDKKey](db, "sdk key", "key = ?", key)
}

// ExpireSDKKeys ends an environment's keys of a kind at the latest at `at`: the current key and every
// older key still in its grace period (so rotating again with no grace ends them all at once).
func ExpireSDKKeys(db *gorm.DB, envID, kind string, at time.Time) error {
	return Translate(db.Model(&SDKKey{}).Where("environment_id = ? AND kind = ? AND (expires_at IS NULL OR expires_at > ?)", envID, kind, at).
		Update("expires_at", at).Error, "sdk key")
}

// DeleteExpiredSDKKeys removes keys whose grace period ended before cutoff.
func DeleteExpiredSDKKeys(db *gorm.DB, cutoff time.Time) (int64, error) {
	res := db.Where("expires_at IS NOT NULL AND expires_at < ?", cutoff).Delete(&SDKKey{})
	return res.RowsAffected, Translate(res.Error, "sdk keys")
}

// ---- API keys

// APIKeyByHash finds an API key by the hash of its secret.
func APIKeyByHash(db *gorm.DB, hash string) (*APIKey, error) {
	return first[APIKey](db, "api key", "secret_hash = ?", hash)
}

// APIKeyByID finds an organisation's API key.
func APIKeyByID(db *gorm.DB, orgID, id string) (*APIKey, error) {
	return first[APIKey](db, "api key", "org_id = ? AND id = ?", orgID, id)
}

// ListAPIKeys lists an organisation's API keys, revoked ones included.
func ListAPIKeys(db *gorm.DB, orgID string, p Page) ([]APIKey, error) {
	var rows []APIKey
	err := p.apply(db.Where("org_id = ?", orgID), "id", false).Find(&rows).Error
	return rows, Translate(err, "api keys")
}

// TouchAPIKeys records when keys were last used, one UPDATE per key, never moving a time backwards.
func TouchAPIKeys(db *gorm.DB, used map[string]time.Time) error {
	for id, at := range used {
		err := db.Model(&APIKey{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at).
			Update("last_used_at", at).Error
		if err != nil {
			return Translate(err, "api key")
		}
	}
	return nil
}

// ---- audit

// AuditFilter narrows an audit listing.
type AuditFilter struct {
	Resource string // a resource id, key or type
	Actor    string // an actor id or name
	Action   string
	Since    *time.Time
	Until    *time.Time
}

// ListAuditEvents lists an organisation's audit events, newest first.
func ListAuditEvents(db *gorm.DB, orgID string, f AuditFilter, p Page) ([]AuditEvent, error) {
	q := db.Where("org_id = ?", orgID)
	if f.Resource != "" {
		q = q.Where("resource_id = ? OR resource_key = ? OR resource_type = ?", f.Resource, f.Resource, f.Resource)
	}
	if f.Actor != "" {
		q = q.Where("actor_id = ? OR actor_name = ?", f.Actor, f.Actor)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", *f.Since)
	}
	if f.Until != nil {
		q = q.Where("created_at < ?", *f.Until)
	}
	var rows []AuditEvent
	err := p.apply(q, "id", true).Find(&rows).Error
	return rows, Translate(err, "audit events")
}
