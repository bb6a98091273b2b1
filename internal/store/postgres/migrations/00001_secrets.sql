-- +goose Up
CREATE TABLE secrets (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT        NOT NULL UNIQUE,
    class           TEXT        NOT NULL DEFAULT 'config',
    rotation_period BIGINT      NOT NULL DEFAULT 0, -- seconds; 0: none
    description     TEXT        NOT NULL DEFAULT '',
    owner           TEXT        NOT NULL DEFAULT '',
    env_name        TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ,
    current_version INTEGER     NOT NULL DEFAULT 0
);

CREATE TABLE versions (
    id             BIGSERIAL PRIMARY KEY,
    secret_id      BIGINT      NOT NULL REFERENCES secrets(id),
    version        INTEGER     NOT NULL,
    token          TEXT        NOT NULL, -- Fernet token; '' once destroyed
    key_id         TEXT        NOT NULL,
    binding        BYTEA       NOT NULL, -- HMAC-SHA256 row binding; empty once destroyed
    created_at     TIMESTAMPTZ NOT NULL,
    actor          TEXT        NOT NULL DEFAULT '',
    destroyed_at   TIMESTAMPTZ,
    compromised_at TIMESTAMPTZ,
    UNIQUE (secret_id, version)
);
CREATE INDEX versions_key_id ON versions (key_id);

CREATE TABLE keys (
    key_id         TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'decrypt-only', 'retired', 'compromised')),
    created_at     TIMESTAMPTZ NOT NULL,
    activated_at   TIMESTAMPTZ,
    deactivated_at TIMESTAMPTZ,
    retired_at     TIMESTAMPTZ,
    retain_until   TIMESTAMPTZ,
    note           TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE keys;
DROP TABLE versions;
DROP TABLE secrets;
