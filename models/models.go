// Package models holds Vane's gorm structs and the queries on them. Driver errors are translated
// here, once, into the kinds of internal/errs. Nothing in this package knows about HTTP or services.
package models

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
)

// Roles a user can hold in an organisation.
const (
	RoleAdmin     = "ADMIN"
	RoleDeveloper = "DEVELOPER"
	RoleViewer    = "VIEWER"
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleDeveloper || r == RoleViewer }

// SDK key kinds.
const (
	SDKServer = "server"
	SDKClient = "client"
)

// NewID returns a UUIDv7: unique, and ordered by creation time so cursors can walk ids.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Organization is a tenant: everything else belongs to exactly one.
type Organization struct {
	ID        string `gorm:"primaryKey"`
	Slug      string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// User is a person who signs in. Users belong to organisations through memberships.
type User struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	Username     *string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64
}

// Membership gives a user one role in one organisation.
type Membership struct {
	ID        string `gorm:"primaryKey"`
	OrgID     string
	UserID    string
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
	User      *User `gorm:"foreignKey:UserID"`
}

// Invitation is a one-time token that lets an email join an organisation with a role.
type Invitation struct {
	ID         string `gorm:"primaryKey"`
	OrgID      string
	Email      string
	Role       string
	TokenHash  string
	InvitedBy  *string
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	CreatedAt  time.Time
}

// RefreshToken is one link of a rotating refresh-token family, stored as a hash.
type RefreshToken struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	FamilyID   string
	TokenHash  string
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	ReplacedBy *string
	CreatedAt  time.Time
}

// Project groups flags, segments and environments.
type Project struct {
	ID          string `gorm:"primaryKey"`
	OrgID       string
	Key         string
	Name        string
	Description string
	// ClientVisibleDefault is whether new flags may be evaluated with client-side SDK keys.
	ClientVisibleDefault bool
	CreatedAt            time.Time
	UpdatedAt            time.Time
	Version              int64
}

// Environment is one deployment target of a project (development, staging, production …).
type Environment struct {
	ID          string `gorm:"primaryKey"`
	OrgID       string
	ProjectID   string
	Key         string
	Name        string
	Description string
	Production  bool
	// ConfigVersion counts changes to what the environment serves (flags, configs, segments).
	ConfigVersion int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
}

// SDKKey lets an SDK read exactly one environment. A key with ExpiresAt set is in its grace period
// after a rotation (or expired); the current key has none.
type SDKKey struct {
	ID            string `gorm:"primaryKey"`
	OrgID         string
	ProjectID     string
	EnvironmentID string
	Kind          string
	Key           string
	CreatedAt     time.Time
	ExpiresAt     *time.Time
}

// TableName keeps gorm from naming the table s_d_k_keys.
func (SDKKey) TableName() string { return "sdk_keys" }

// APIKey is a server-to-server management credential, stored as a hash of its secret.
type APIKey struct {
	ID            string `gorm:"primaryKey"`
	OrgID         string
	ProjectID     *string
	EnvironmentID *string
	Name          string
	Prefix        string
	SecretHash    string
	Scopes        string // comma-separated: read, write, admin
	CreatedBy     *string
	ExpiresAt     *time.Time
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
}

// TableName keeps gorm from naming the table a_p_i_keys.
func (APIKey) TableName() string { return "api_keys" }

// AuditEvent records who did what to which resource, with the state before and after.
type AuditEvent struct {
	ID           string `gorm:"primaryKey"`
	OrgID        string
	ActorType    string
	ActorID      string
	ActorName    string
	Action       string
	ResourceType string
	ResourceID   string
	ResourceKey  string
	BeforeJSON   *string `gorm:"column:before_json"`
	AfterJSON    *string `gorm:"column:after_json"`
	RequestID    string
	IP           string `gorm:"column:ip"`
	CreatedAt    time.Time
}

// Translate maps a driver error to an errs kind, naming what was being touched.
func Translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return errs.NotFoundf("%s not found", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return errs.Wrap(errs.Conflict, err, "%s already exists", what)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return errs.Wrap(errs.Conflict, err, "%s refers to something that does not exist or is still referenced", what)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// Page is a cursor-paginated slice of ids in creation order.
type Page struct {
	Limit  int
	After  string // return ids greater than this (ascending lists)
	Before string // return ids smaller than this (descending lists)
}

// apply adds the cursor condition, the order and the limit (one extra row to know if there is more).
func (p Page) apply(q *gorm.DB, column string, desc bool) *gorm.DB {
	if desc {
		if p.Before != "" {
			q = q.Where(column+" < ?", p.Before)
		}
		q = q.Order(column + " DESC")
	} else {
		if p.After != "" {
			q = q.Where(column+" > ?", p.After)
		}
		q = q.Order(column + " ASC")
	}
	if p.Limit > 0 {
		q = q.Limit(p.Limit + 1)
	}
	return q
}

// Trim cuts a result fetched with apply to the page size and says where the next page starts.
func Trim[T any](rows []T, limit int, id func(T) string) ([]T, string) {
	if limit <= 0 || len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, id(rows[len(rows)-1])
}
