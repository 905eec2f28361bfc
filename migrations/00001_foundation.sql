-- +goose Up
-- One schema for Postgres and SQLite: portable types only. Times are stored in UTC as TIMESTAMP;
-- ids are UUIDv7 strings (time-ordered, so cursor pagination can walk them).
CREATE TABLE organizations (
    id          VARCHAR(36) PRIMARY KEY,
    slug        VARCHAR(64) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

CREATE TABLE users (
    id            VARCHAR(36) PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    username      VARCHAR(64),
    name          VARCHAR(200) NOT NULL DEFAULT '',
    password_hash VARCHAR(200) NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_username_key ON users (username);

CREATE TABLE memberships (
    id          VARCHAR(36) PRIMARY KEY,
    org_id      VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        VARCHAR(16) NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX memberships_org_user_key ON memberships (org_id, user_id);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE invitations (
    id           VARCHAR(36) PRIMARY KEY,
    org_id       VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        VARCHAR(254) NOT NULL,
    role         VARCHAR(16) NOT NULL,
    token_hash   VARCHAR(64) NOT NULL,
    invited_by   VARCHAR(36),
    expires_at   TIMESTAMP NOT NULL,
    accepted_at  TIMESTAMP,
    created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_org_idx ON invitations (org_id);

CREATE TABLE refresh_tokens (
    id           VARCHAR(36) PRIMARY KEY,
    user_id      VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    VARCHAR(36) NOT NULL,
    token_hash   VARCHAR(64) NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP,
    replaced_by  VARCHAR(36),
    created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE projects (
    id          VARCHAR(36) PRIMARY KEY,
    org_id      VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key         VARCHAR(64) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX projects_org_key_key ON projects (org_id, key);

CREATE TABLE environments (
    id          VARCHAR(36) PRIMARY KEY,
    org_id      VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id  VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key         VARCHAR(64) NOT NULL,
    name        VARCHAR(200) NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    production  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX environments_project_key_key ON environments (project_id, key);
CREATE INDEX environments_org_idx ON environments (org_id);

CREATE TABLE sdk_keys (
    id              VARCHAR(36) PRIMARY KEY,
    org_id          VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id  VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind            VARCHAR(8) NOT NULL,
    key             VARCHAR(80) NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP
);
CREATE UNIQUE INDEX sdk_keys_key_key ON sdk_keys (key);
CREATE INDEX sdk_keys_environment_idx ON sdk_keys (environment_id);

CREATE TABLE api_keys (
    id              VARCHAR(36) PRIMARY KEY,
    org_id          VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id      VARCHAR(36) REFERENCES projects (id) ON DELETE CASCADE,
    environment_id  VARCHAR(36) REFERENCES environments (id) ON DELETE CASCADE,
    name            VARCHAR(200) NOT NULL,
    prefix          VARCHAR(16) NOT NULL,
    secret_hash     VARCHAR(64) NOT NULL,
    scopes          VARCHAR(64) NOT NULL,
    created_by      VARCHAR(36),
    expires_at      TIMESTAMP,
    last_used_at    TIMESTAMP,
    revoked_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_org_idx ON api_keys (org_id);

CREATE TABLE audit_events (
    id             VARCHAR(36) PRIMARY KEY,
    org_id         VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor_type     VARCHAR(16) NOT NULL,
    actor_id       VARCHAR(36) NOT NULL DEFAULT '',
    actor_name     VARCHAR(254) NOT NULL DEFAULT '',
    action         VARCHAR(64) NOT NULL,
    resource_type  VARCHAR(32) NOT NULL,
    resource_id    VARCHAR(36) NOT NULL DEFAULT '',
    resource_key   VARCHAR(200) NOT NULL DEFAULT '',
    before_json    TEXT,
    after_json     TEXT,
    request_id     VARCHAR(64) NOT NULL DEFAULT '',
    ip             VARCHAR(64) NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_org_idx ON audit_events (org_id, id);
CREATE INDEX audit_events_org_resource_idx ON audit_events (org_id, resource_id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE sdk_keys;
DROP TABLE environments;
DROP TABLE projects;
DROP TABLE refresh_tokens;
DROP TABLE invitations;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE organizations;
