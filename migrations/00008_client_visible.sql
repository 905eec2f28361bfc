-- +goose Up
-- Client-side SDK keys (cli-…, public) evaluate only flags marked client-visible. A project's
-- default decides for new flags; it starts true so browser front ends keep working.
ALTER TABLE projects ADD COLUMN client_visible_default BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE flags ADD COLUMN client_visible BOOLEAN NOT NULL DEFAULT TRUE;

-- +goose Down
ALTER TABLE flags DROP COLUMN client_visible;
ALTER TABLE projects DROP COLUMN client_visible_default;
