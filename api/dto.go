package api

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// ---- auth

// LoginRequest signs in with a username or an email.
type LoginRequest struct {
	Username string `json:"username" example:"admin"`
	Email    string `json:"email" example:"admin@vane.local"`
	Password string `json:"password" example:"correct horse battery staple"`
}

// RefreshRequest exchanges a refresh token.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token" example:"vrt_…"`
}

// ChangePasswordRequest replaces the signed-in user's password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password" example:"correct horse battery staple"`
	NewPassword     string `json:"new_password" example:"a longer passphrase than before"`
}

// SignupRequest creates a user and their organisation.
type SignupRequest struct {
	Email        string  `json:"email" example:"ada@example.com"`
	Username     *string `json:"username,omitempty" example:"ada"`
	Name         string  `json:"name" example:"Ada Lovelace"`
	Password     string  `json:"password" example:"correct horse battery staple"`
	Organization struct {
		Name string `json:"name" example:"Analytical Engines"`
		Slug string `json:"slug" example:"analytical-engines"`
	} `json:"organization"`
}

// AcceptInviteRequest redeems an invitation token. Password, username and name are for a new
// account only; an existing account accepts while signed in, without them.
type AcceptInviteRequest struct {
	Token    string  `json:"token" example:"vit_…"`
	Password string  `json:"password,omitempty" example:"correct horse battery staple"`
	Username *string `json:"username,omitempty"`
	Name     string  `json:"name,omitempty"`
}

// TokenResponse is a signed-in session.
type TokenResponse struct {
	AccessToken  string                `json:"access_token"`
	RefreshToken string                `json:"refresh_token,omitempty"` // empty for the portal's cookie session
	TokenType    string                `json:"token_type" example:"Bearer"`
	ExpiresIn    int64                 `json:"expires_in" example:"900"`
	User         UserResponse          `json:"user"`
	Organization *OrganizationResponse `json:"organization,omitempty"`
}

func toTokens(t *services.Tokens, org *models.Organization) TokenResponse {
	r := TokenResponse{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: "Bearer",
		ExpiresIn: t.ExpiresIn, User: toUser(t.User)}
	if org != nil {
		o := toOrg(org)
		r.Organization = &o
	}
	return r
}

// UserResponse is a user, without secrets.
type UserResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Username  *string   `json:"username"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func toUser(u *models.User) UserResponse {
	return UserResponse{ID: u.ID, Email: u.Email, Username: u.Username, Name: u.Name, CreatedAt: u.CreatedAt}
}

// MeResponse is who the credential belongs to.
type MeResponse struct {
	Kind        string               `json:"kind" example:"user"`
	User        *UserResponse        `json:"user,omitempty"`
	Memberships []MembershipResponse `json:"memberships,omitempty"`
	APIKey      *APIKeyResponse      `json:"api_key,omitempty"`
}

// MembershipResponse is one organisation the user belongs to.
type MembershipResponse struct {
	Organization OrganizationResponse `json:"organization"`
	Role         string               `json:"role" example:"ADMIN"`
}

// ---- organisations

// OrganizationRequest creates an organisation.
type OrganizationRequest struct {
	Name string `json:"name" example:"Acme"`
	Slug string `json:"slug" example:"acme"`
}

// OrganizationPatch renames an organisation.
type OrganizationPatch struct {
	Name *string `json:"name" example:"Acme Corp"`
}

// OrganizationResponse is an organisation.
type OrganizationResponse struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug" example:"acme"`
	Name      string    `json:"name" example:"Acme"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version" example:"1"`
}

func toOrg(o *models.Organization) OrganizationResponse {
	return OrganizationResponse{ID: o.ID, Slug: o.Slug, Name: o.Name, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Version: o.Version}
}

// OrganizationList is a page of organisations.
type OrganizationList struct {
	Items      []OrganizationResponse `json:"items"`
	NextCursor string                 `json:"next_cursor"`
}

// ---- members and invitations

// InviteRequest invites an email with a role.
type InviteRequest struct {
	Email string `json:"email" example:"grace@example.com"`
	Role  string `json:"role" example:"DEVELOPER" enums:"ADMIN,DEVELOPER,VIEWER"`
}

// MemberPatch changes a member's role.
type MemberPatch struct {
	Role string `json:"role" example:"VIEWER" enums:"ADMIN,DEVELOPER,VIEWER"`
}

// MemberResponse is a member of an organisation.
type MemberResponse struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Username  *string   `json:"username"`
	Name      string    `json:"name"`
	Role      string    `json:"role" example:"DEVELOPER"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

func toMember(m *models.Membership) MemberResponse {
	r := MemberResponse{ID: m.ID, UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Version: m.Version}
	if m.User != nil {
		r.Email, r.Username, r.Name = m.User.Email, m.User.Username, m.User.Name
	}
	return r
}

// MemberList is a page of members.
type MemberList struct {
	Items      []MemberResponse `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// InvitationResponse is a pending invitation. Token is present only in the response that made it.
type InvitationResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	Token     string    `json:"token,omitempty"`
}

func toInvitation(i *models.Invitation, token string) InvitationResponse {
	return InvitationResponse{ID: i.ID, Email: i.Email, Role: i.Role, ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt, Token: token}
}

// InvitationList is a page of invitations.
type InvitationList struct {
	Items      []InvitationResponse `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

// ---- API keys

// APIKeyRequest creates an API key.
type APIKeyRequest struct {
	Name        string     `json:"name" example:"ci-deployer"`
	Scopes      []string   `json:"scopes" example:"read,write"`
	Project     string     `json:"project,omitempty" example:"default"`
	Environment string     `json:"environment,omitempty" example:"production"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// APIKeyResponse is an API key without its secret (Secret is set only when it is created).
type APIKeyResponse struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Prefix        string     `json:"prefix" example:"vk_AbC123"`
	Scopes        []string   `json:"scopes"`
	ProjectID     *string    `json:"project_id"`
	EnvironmentID *string    `json:"environment_id"`
	Status        string     `json:"status" example:"active" enums:"active,revoked,expired"`
	CreatedBy     *string    `json:"created_by"`
	ExpiresAt     *time.Time `json:"expires_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	CreatedAt     time.Time  `json:"created_at"`
	Secret        string     `json:"secret,omitempty"`
}

func toAPIKey(k *models.APIKey, now time.Time) APIKeyResponse {
	r := APIKeyResponse{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: strings.Split(k.Scopes, ","),
		ProjectID: k.ProjectID, EnvironmentID: k.EnvironmentID, Status: "active", CreatedBy: k.CreatedBy,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
	switch {
	case k.RevokedAt != nil:
		r.Status = "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		r.Status = "expired"
	}
	return r
}

// APIKeyList is a page of API keys.
type APIKeyList struct {
	Items      []APIKeyResponse `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// ---- projects and environments

// ProjectRequest creates a project; without environments it gets development, staging, production.
type ProjectRequest struct {
	Key          string               `json:"key" example:"web"`
	Name         string               `json:"name" example:"Web shop"`
	Description  string               `json:"description"`
	Environments []EnvironmentRequest `json:"environments,omitempty"`
	// ClientVisibleDefault is whether new flags may be evaluated with client-side SDK keys (default true).
	ClientVisibleDefault *bool `json:"client_visible_default,omitempty"`
}

// ProjectPatch changes a project.
type ProjectPatch struct {
	Name                 *string `json:"name"`
	Description          *string `json:"description"`
	ClientVisibleDefault *bool   `json:"client_visible_default"`
}

// ProjectResponse is a project (with its environments when just created).
type ProjectResponse struct {
	ID          string `json:"id"`
	Key         string `json:"key" example:"web"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// ClientVisibleDefault is whether new flags may be evaluated with client-side SDK keys.
	ClientVisibleDefault bool                  `json:"client_visible_default"`
	CreatedAt            time.Time             `json:"created_at"`
	UpdatedAt            time.Time             `json:"updated_at"`
	Version              int64                 `json:"version"`
	Environments         []EnvironmentResponse `json:"environments,omitempty"`
}

func toProject(p *models.Project) ProjectResponse {
	return ProjectResponse{ID: p.ID, Key: p.Key, Name: p.Name, Description: p.Description,
		ClientVisibleDefault: p.ClientVisibleDefault, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version}
}

// ProjectList is a page of projects.
type ProjectList struct {
	Items      []ProjectResponse `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// EnvironmentRequest creates an environment.
type EnvironmentRequest struct {
	Key         string `json:"key" example:"qa"`
	Name        string `json:"name" example:"QA"`
	Description string `json:"description"`
	Production  bool   `json:"production"`
}

// EnvironmentPatch changes an environment.
type EnvironmentPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Production  *bool   `json:"production"`
}

// RotateRequest rotates SDK keys. GracePeriod is a Go duration ("1h"); empty means at once.
type RotateRequest struct {
	Kind        string `json:"kind" example:"server" enums:"server,client,both"`
	GracePeriod string `json:"grace_period" example:"1h"`
}

// SDKKeyResponse is an SDK key; Masked says the caller's role sees only its ends.
type SDKKeyResponse struct {
	Kind      string     `json:"kind" example:"server" enums:"server,client"`
	Key       string     `json:"key" example:"srv-…"`
	Masked    bool       `json:"masked"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// EnvironmentResponse is an environment with its SDK keys: the current server and client keys,
// and any rotated ones still in their grace period.
type EnvironmentResponse struct {
	ID          string           `json:"id"`
	Key         string           `json:"key" example:"production"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Production  bool             `json:"production"`
	ProjectID   string           `json:"project_id"`
	ProjectKey  string           `json:"project_key"`
	SDKKeys     []SDKKeyResponse `json:"sdk_keys"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	Version     int64            `json:"version"`
}

// keyVisibility says which SDK keys the caller may see in full.
type keyVisibility struct{ server, client bool }

func toEnvironment(e *services.Environment, vis keyVisibility) EnvironmentResponse {
	r := EnvironmentResponse{ID: e.ID, Key: e.Key, Name: e.Name, Description: e.Description, Production: e.Production,
		ProjectID: e.ProjectID, ProjectKey: e.ProjectKey, SDKKeys: []SDKKeyResponse{}, CreatedAt: e.CreatedAt,
		UpdatedAt: e.UpdatedAt, Version: e.Version}
	for _, k := range e.Keys {
		show := (k.Kind == models.SDKServer && vis.server) || (k.Kind == models.SDKClient && vis.client)
		v := SDKKeyResponse{Kind: k.Kind, Key: k.Key, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}
		if !show {
			v.Key, v.Masked = keys.Mask(k.Key), true
		}
		r.SDKKeys = append(r.SDKKeys, v)
	}
	return r
}

// EnvironmentList is a page of environments.
type EnvironmentList struct {
	Items      []EnvironmentResponse `json:"items"`
	NextCursor string                `json:"next_cursor"`
}

// ---- audit

// AuditEventResponse is one audit event.
type AuditEventResponse struct {
	ID        string          `json:"id"`
	Action    string          `json:"action" example:"project.created"`
	Actor     AuditActor      `json:"actor"`
	Resource  AuditResource   `json:"resource"`
	Before    json.RawMessage `json:"before" swaggertype:"object"`
	After     json.RawMessage `json:"after" swaggertype:"object"`
	RequestID string          `json:"request_id"`
	IP        string          `json:"ip"`
	CreatedAt time.Time       `json:"created_at"`
}

// AuditActor is who acted.
type AuditActor struct {
	Type string `json:"type" example:"user" enums:"user,api_key,system"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AuditResource is what was acted on.
type AuditResource struct {
	Type string `json:"type" example:"project"`
	ID   string `json:"id"`
	Key  string `json:"key"`
}

func rawJSON(s *string) json.RawMessage {
	if s == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(*s)
}

func toAuditEvent(e *models.AuditEvent) AuditEventResponse {
	return AuditEventResponse{ID: e.ID, Action: e.Action, Actor: AuditActor{Type: e.ActorType, ID: e.ActorID, Name: e.ActorName},
		Resource: AuditResource{Type: e.ResourceType, ID: e.ResourceID, Key: e.ResourceKey},
		Before:   rawJSON(e.BeforeJSON), After: rawJSON(e.AfterJSON), RequestID: e.RequestID, IP: e.IP, CreatedAt: e.CreatedAt}
}

// AuditEventList is a page of audit events, newest first.
type AuditEventList struct {
	Items      []AuditEventResponse `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

// mapItems converts a page's items.
func mapItems[T, R any](items []T, f func(*T) R) []R {
	out := make([]R, len(items))
	for i := range items {
		out[i] = f(&items[i])
	}
	return out
}
