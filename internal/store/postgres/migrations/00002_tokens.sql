-- +goose Up
-- Service tokens: only SHA-256 of each token is kept, beside a non-secret
-- accessor.
CREATE TABLE tokens (
    accessor   TEXT        PRIMARY KEY,
    hash       BYTEA       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    service    TEXT        NOT NULL,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    max_expiry TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX tokens_service ON tokens (service);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- +goose Down
DROP TABLE tokens;
