-- +goose Up
-- Flags (per project), their configuration per environment, and segments (per project).
-- JSON documents (variations, rules, targets …) are TEXT holding JSON, portable across both databases.
CREATE TABLE flags (
    id           VARCHAR(36) PRIMARY KEY,
    org_id       VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id   VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key          VARCHAR(64) NOT NULL,
    name         VARCHAR(200) NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    type         VARCHAR(16) NOT NULL,
    variations   TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    owner        VARCHAR(254) NOT NULL DEFAULT '',
    temporary    BOOLEAN NOT NULL DEFAULT TRUE,
    archived     BOOLEAN NOT NULL DEFAULT FALSE,
    experiment   VARCHAR(200) NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX flags_project_key_key ON flags (project_id, key);
CREATE INDEX flags_org_idx ON flags (org_id);

CREATE TABLE flag_configs (
    id                 VARCHAR(36) PRIMARY KEY,
    org_id             VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id         VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id     VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flag_id            VARCHAR(36) NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    status             VARCHAR(16) NOT NULL,
    default_variation  VARCHAR(64) NOT NULL DEFAULT '',
    on_variation       VARCHAR(64) NOT NULL DEFAULT '',
    targets            TEXT NOT NULL DEFAULT '[]',
    rules              TEXT NOT NULL DEFAULT '[]',
    fallthrough        TEXT NOT NULL,
    bucket_by          VARCHAR(256) NOT NULL DEFAULT '',
    salt               VARCHAR(200) NOT NULL DEFAULT '',
    evaluations        BIGINT NOT NULL DEFAULT 0,
    last_evaluated_at  TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX flag_configs_flag_env_key ON flag_configs (flag_id, environment_id);
CREATE INDEX flag_configs_env_idx ON flag_configs (environment_id);

CREATE TABLE segments (
    id           VARCHAR(36) PRIMARY KEY,
    org_id       VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id   VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key          VARCHAR(64) NOT NULL,
    name         VARCHAR(200) NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    conditions   TEXT NOT NULL DEFAULT '[]',
    included     TEXT NOT NULL DEFAULT '[]',
    excluded     TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX segments_project_key_key ON segments (project_id, key);

-- Every write that changes what an environment serves bumps its config_version (the snapshot's
-- version, the ETag of SDK downloads).
ALTER TABLE environments ADD COLUMN config_version BIGINT NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE environments DROP COLUMN config_version;
DROP TABLE segments;
DROP TABLE flag_configs;
DROP TABLE flags;
