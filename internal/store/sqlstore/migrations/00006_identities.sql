-- +goose Up
-- Identities (docs/identities.md): services and operators, and their
-- credentials, of which only SHA-256 is kept beside a non-secret ID. Names
-- are never reused: a revoked identity stays.
CREATE TABLE identities (
    name       TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('service', 'operator')),
    role       TEXT    NOT NULL DEFAULT '' CHECK (role IN ('', 'admin', 'auditor', 'responder')),
    created_at {{.Time}} NOT NULL,
    revoked_at {{.Time}}
);

CREATE TABLE credentials (
    id         TEXT    PRIMARY KEY,
    identity   TEXT    NOT NULL REFERENCES identities (name),
    hash       {{.Bytes}}    NOT NULL UNIQUE{{.SHA256Check}},
    created_at {{.Time}} NOT NULL,
    expires_at {{.Time}} NOT NULL,
    revoked_at {{.Time}}
);
CREATE INDEX credentials_identity ON credentials (identity, created_at);

-- +goose Down
DROP TABLE credentials;
DROP TABLE identities;
