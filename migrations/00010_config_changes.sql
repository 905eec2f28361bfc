-- +goose Up
-- The history of configuration changes, so a node brings an environment's snapshot up to date by
-- compiling only what changed. Every write that changes what a project's environments serve adds
-- one to the project's config_seq (under the project's row lock, so numbers follow commit order)
-- and names, under that number, the flags and segments it changed: in one environment, or in all
-- of them (environment_id ''); kind 'all' when anything may have changed. Old rows are pruned; a
-- node whose snapshot is older than what is kept loads the environment whole.
ALTER TABLE projects ADD COLUMN config_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE config_changes (
    project_id      VARCHAR(36) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    environment_id  VARCHAR(36) NOT NULL DEFAULT '',
    kind            VARCHAR(16) NOT NULL,
    key             VARCHAR(64) NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX config_changes_project_seq_idx ON config_changes (project_id, seq);
CREATE INDEX config_changes_created_idx ON config_changes (created_at);

-- +goose Down
DROP TABLE config_changes;
ALTER TABLE projects DROP COLUMN config_seq;
