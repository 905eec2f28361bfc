-- +goose Up
-- The rollout scheduling outbox: a row for every change to a rollout plan that the job queue must
-- reflect (stages to schedule or to take off), written in the change's own transaction and deleted
-- once the queue matches the plan. A queue that is down when a plan starts loses nothing.
-- plan_id has no foreign key: the row must outlive a deleted plan until its tasks are gone.
CREATE TABLE rollout_outbox (
    id          VARCHAR(36) PRIMARY KEY,
    org_id      VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    plan_id     VARCHAR(36) NOT NULL,
    action      VARCHAR(16) NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX rollout_outbox_plan_idx ON rollout_outbox (plan_id);

-- +goose Down
DROP TABLE rollout_outbox;
