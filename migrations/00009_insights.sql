-- +goose Up
-- Evaluation counts per flag configuration × variation × hour, added by each node's batched counter
-- flush (one upsert per row per flush), for the portal's insights chart.
CREATE TABLE flag_insights (
    config_id       VARCHAR(36) NOT NULL REFERENCES flag_configs (id) ON DELETE CASCADE,
    environment_id  VARCHAR(36) NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    variation       VARCHAR(64) NOT NULL,
    hour            TIMESTAMP NOT NULL,
    evaluations     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (config_id, hour, variation)
);

-- +goose Down
DROP TABLE flag_insights;
