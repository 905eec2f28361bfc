-- +goose Up
-- A rotated refresh token keeps the secret of the token that replaced it, sealed with AES-GCM under
-- a key derived from the JWT secret, for a few seconds: two tabs refreshing the same token at once
-- both get the same new one. It is cleared when the family rotates again, is revoked, or is pruned.
ALTER TABLE refresh_tokens ADD COLUMN successor_secret VARCHAR(200);

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN successor_secret;
