-- +goose Up
-- Service tokens: only SHA-256 of each token is kept, beside a non-secret
-- accessor.
CREATE TABLE tokens (
    accessor   TEXT    PRIMARY KEY,
    hash       {{.Bytes}}    NOT NULL UNIQUE{{.SHA256Check}},
    service    TEXT    NOT NULL,
    issued_at  {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    max_expiry {{.Time}} NOT NULL,
    revoked_at {{.Time}}
);
CREATE INDEX tokens_service ON tokens (service);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- +goose Down
DROP TABLE tokens;
