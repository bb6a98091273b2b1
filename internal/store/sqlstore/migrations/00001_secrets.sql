-- +goose Up
-- Times, here and in the later tables, are Unix microseconds (UTC) in an
-- INTEGER on SQLite and TIMESTAMPTZ on PostgreSQL (Dialect.Timestamps);
-- NULL means unset.
CREATE TABLE secrets (
    id              {{.ID}} PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    class           TEXT    NOT NULL DEFAULT 'config',
    rotation_period {{.Int64}} NOT NULL DEFAULT 0, -- seconds; 0: none
    description     TEXT    NOT NULL DEFAULT '',
    owner           TEXT    NOT NULL DEFAULT '',
    env_name        TEXT    NOT NULL DEFAULT '',
    created_at      {{.Time}} NOT NULL,
    updated_at      {{.Time}} NOT NULL,
    deleted_at      {{.Time}},
    current_version INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE versions (
    id             {{.ID}} PRIMARY KEY,
    secret_id      {{.Int64}} NOT NULL REFERENCES secrets(id),
    version        INTEGER NOT NULL,
    token          TEXT    NOT NULL, -- Fernet token; '' once destroyed
    key_id         TEXT    NOT NULL,
    binding        {{.Bytes}}    NOT NULL, -- HMAC-SHA256 row binding; empty once destroyed
    created_at     {{.Time}} NOT NULL,
    actor          TEXT    NOT NULL DEFAULT '',
    destroyed_at   {{.Time}},
    compromised_at {{.Time}},
    UNIQUE (secret_id, version)
);
CREATE INDEX versions_key_id ON versions (key_id);

CREATE TABLE keys (
    key_id         TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'decrypt-only', 'retired', 'compromised')),
    created_at     {{.Time}} NOT NULL,
    activated_at   {{.Time}},
    deactivated_at {{.Time}},
    retired_at     {{.Time}},
    retain_until   {{.Time}},
    note           TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE keys;
DROP TABLE versions;
DROP TABLE secrets;
