-- +goose Up
-- Times are Unix microseconds (UTC); NULL means unset.
CREATE TABLE secrets (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    class           TEXT    NOT NULL DEFAULT 'config',
    rotation_period INTEGER NOT NULL DEFAULT 0, -- seconds; 0: none
    description     TEXT    NOT NULL DEFAULT '',
    owner           TEXT    NOT NULL DEFAULT '',
    env_name        TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    current_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    secret_id      INTEGER NOT NULL REFERENCES secrets(id),
    version        INTEGER NOT NULL,
    token          TEXT    NOT NULL, -- Fernet token; '' once destroyed
    key_id         TEXT    NOT NULL,
    binding        BLOB    NOT NULL, -- HMAC-SHA256 row binding; empty once destroyed
    created_at     INTEGER NOT NULL,
    actor          TEXT    NOT NULL DEFAULT '',
    destroyed_at   INTEGER,
    compromised_at INTEGER,
    UNIQUE (secret_id, version)
);
CREATE INDEX versions_key_id ON versions (key_id);

CREATE TABLE keys (
    key_id         TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'decrypt-only', 'retired', 'compromised')),
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    deactivated_at INTEGER,
    retired_at     INTEGER,
    retain_until   INTEGER,
    note           TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE keys;
DROP TABLE versions;
DROP TABLE secrets;
