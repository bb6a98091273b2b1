-- +goose Up
-- Identities (docs/identities.md): services and operators, and their
-- credentials, of which only SHA-256 is kept beside a non-secret ID. Names
-- are never reused: a revoked identity stays. Times are Unix microseconds
-- (UTC); NULL means unset.
CREATE TABLE identities (
    name       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('service', 'operator')),
    role       TEXT    NOT NULL DEFAULT '' CHECK (role IN ('', 'admin', 'auditor', 'responder')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE credentials (
    id         TEXT    PRIMARY KEY,
    identity   TEXT    NOT NULL REFERENCES identities (name),
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX credentials_identity ON credentials (identity, created_at);

-- +goose Down
DROP TABLE credentials;
DROP TABLE identities;
