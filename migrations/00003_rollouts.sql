-- +goose Up
-- Scheduled rollout plans (one per flag × environment), their stages, safety guards, and the
-- per-minute evaluation metrics the guards read.
CREATE TABLE rollout_plans (
    id               VARCHAR(36) PRIMARY KEY,
    org_id           VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id       VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id   VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flag_id          VARCHAR(36) NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    config_id        VARCHAR(36) NOT NULL REFERENCES flag_configs (id) ON DELETE CASCADE,
    state            VARCHAR(16) NOT NULL,
    variation        VARCHAR(64) NOT NULL DEFAULT '',
    mark_rolled_out  BOOLEAN NOT NULL DEFAULT FALSE,
    reason           TEXT NOT NULL DEFAULT '',
    started_at       TIMESTAMP,
    paused_at        TIMESTAMP,
    finished_at      TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX rollout_plans_config_key ON rollout_plans (config_id);
CREATE INDEX rollout_plans_state_idx ON rollout_plans (state);

CREATE TABLE rollout_stages (
    id             VARCHAR(36) PRIMARY KEY,
    plan_id        VARCHAR(36) NOT NULL REFERENCES rollout_plans (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    weight         INTEGER NOT NULL,
    variation      VARCHAR(64) NOT NULL DEFAULT '',
    at             TIMESTAMP,
    after_seconds  BIGINT,
    due_at         TIMESTAMP,
    applied_at     TIMESTAMP
);
CREATE UNIQUE INDEX rollout_stages_plan_position_key ON rollout_stages (plan_id, position);

CREATE TABLE safety_guards (
    id                 VARCHAR(36) PRIMARY KEY,
    org_id             VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id         VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment_id     VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    config_id          VARCHAR(36) NOT NULL REFERENCES flag_configs (id) ON DELETE CASCADE,
    metric             VARCHAR(32) NOT NULL,
    comparator         VARCHAR(8) NOT NULL,
    threshold          DOUBLE PRECISION NOT NULL,
    window_seconds     INTEGER NOT NULL,
    min_sample         INTEGER NOT NULL,
    action             VARCHAR(32) NOT NULL,
    cooldown_seconds   INTEGER NOT NULL DEFAULT 0,
    trigger_hash       VARCHAR(64),
    last_triggered_at  TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX safety_guards_config_idx ON safety_guards (config_id);
CREATE UNIQUE INDEX safety_guards_trigger_key ON safety_guards (trigger_hash);

CREATE TABLE metric_buckets (
    environment_id  VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flag_key        VARCHAR(64) NOT NULL,
    variation       VARCHAR(64) NOT NULL,
    minute          TIMESTAMP NOT NULL,
    evaluations     BIGINT NOT NULL DEFAULT 0,
    errors          BIGINT NOT NULL DEFAULT 0,
    successes       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, flag_key, variation, minute)
);
CREATE INDEX metric_buckets_minute_idx ON metric_buckets (minute);

-- +goose Down
DROP TABLE metric_buckets;
DROP TABLE safety_guards;
DROP TABLE rollout_stages;
DROP TABLE rollout_plans;
