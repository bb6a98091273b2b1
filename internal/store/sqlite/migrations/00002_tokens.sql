-- +goose Up
-- Service tokens: only SHA-256 of each token is kept, beside a non-secret
-- accessor. Times are Unix microseconds (UTC); NULL means unset.
CREATE TABLE tokens (
    accessor   TEXT    PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    service    TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_expiry INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX tokens_service ON tokens (service);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- +goose Down
DROP TABLE tokens;
