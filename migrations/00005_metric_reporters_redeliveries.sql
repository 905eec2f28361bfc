-- +goose Up
-- Metric buckets record which SDK key reported them (its id and masked form, never the secret), so
-- a guard's rollback can name who reported the breaching figures: the key joins the bucket's primary
-- key. SQLite cannot change a primary key in place, so the table is rebuilt (on both databases).
CREATE TABLE metric_buckets_v5 (
    environment_id  VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flag_key        VARCHAR(64) NOT NULL,
    variation       VARCHAR(64) NOT NULL,
    minute          TIMESTAMP NOT NULL,
    sdk_key_id      VARCHAR(36) NOT NULL DEFAULT '',
    sdk_key_masked  VARCHAR(32) NOT NULL DEFAULT '',
    evaluations     BIGINT NOT NULL DEFAULT 0,
    errors          BIGINT NOT NULL DEFAULT 0,
    successes       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, flag_key, variation, minute, sdk_key_id)
);
INSERT INTO metric_buckets_v5 (environment_id, flag_key, variation, minute, evaluations, errors, successes)
    SELECT environment_id, flag_key, variation, minute, evaluations, errors, successes FROM metric_buckets;
DROP TABLE metric_buckets;
ALTER TABLE metric_buckets_v5 RENAME TO metric_buckets;
CREATE INDEX metric_buckets_minute_idx ON metric_buckets (minute);

-- A failed delivery can be sent again by hand; each redelivery is a new job.
ALTER TABLE webhook_deliveries ADD COLUMN redeliveries INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN redeliveries;

CREATE TABLE metric_buckets_v4 (
    environment_id  VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flag_key        VARCHAR(64) NOT NULL,
    variation       VARCHAR(64) NOT NULL,
    minute          TIMESTAMP NOT NULL,
    evaluations     BIGINT NOT NULL DEFAULT 0,
    errors          BIGINT NOT NULL DEFAULT 0,
    successes       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, flag_key, variation, minute)
);
INSERT INTO metric_buckets_v4 (environment_id, flag_key, variation, minute, evaluations, errors, successes)
    SELECT environment_id, flag_key, variation, minute, SUM(evaluations), SUM(errors), SUM(successes)
    FROM metric_buckets GROUP BY environment_id, flag_key, variation, minute;
DROP TABLE metric_buckets;
ALTER TABLE metric_buckets_v4 RENAME TO metric_buckets;
CREATE INDEX metric_buckets_minute_idx ON metric_buckets (minute);
