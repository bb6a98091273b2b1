-- +goose Up
-- The audit key (docs/audit.md, "The audit key"): one random key that MACs
-- the audit chain, stored only encrypted (a Fernet token) under each Fernet
-- key that has been primary since, named by that key's ID. Whoever holds
-- one of those keys can unwrap it; the database alone cannot.
CREATE TABLE audit_keys (
    key_id     TEXT    PRIMARY KEY,
    wrapped    TEXT    NOT NULL,
    created_ns BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE audit_keys;
