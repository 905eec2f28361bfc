-- +goose Up
-- Webhooks: where to send which events, and the log of every delivery (an outbox: deliveries are
-- written in the transaction of the event they report, then sent by the worker).
CREATE TABLE webhooks (
    id          VARCHAR(36) PRIMARY KEY,
    org_id      VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url         VARCHAR(2000) NOT NULL,
    events      TEXT NOT NULL,
    secret      VARCHAR(80) NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_org_idx ON webhooks (org_id);

CREATE TABLE webhook_deliveries (
    id                VARCHAR(36) PRIMARY KEY,
    org_id            VARCHAR(36) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    webhook_id        VARCHAR(36) NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event             VARCHAR(64) NOT NULL,
    payload           TEXT NOT NULL,
    status            VARCHAR(16) NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_status_code  INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    latency_ms        INTEGER NOT NULL DEFAULT 0,
    queued            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    delivered_at      TIMESTAMP
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_queued_idx ON webhook_deliveries (queued, status);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
