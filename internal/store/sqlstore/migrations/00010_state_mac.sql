-- +goose Up
-- The state MAC of each secret (docs/store.md, "State MACs"): an HMAC, under
-- a subkey of the audit key, of its name, current version, deleted flag and
-- the versions marked compromised or destroyed. A database writer without a
-- Fernet key cannot make one, so setting current_version back, clearing
-- deleted_at or compromised_at is refused by get and reported by verify.
-- NULL: not sealed yet. The secrets of a store written by an older binary
-- are sealed the first time a process opens it with a key, which records a
-- seal event in the audit chain and the row of state_seal: from then on a
-- secret without a state MAC is refused.
ALTER TABLE secrets ADD COLUMN state_mac {{.Bytes}};
CREATE INDEX secrets_unsealed ON secrets (id) WHERE state_mac IS NULL;
CREATE TABLE state_seal (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_ns BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE state_seal;
DROP INDEX secrets_unsealed;
ALTER TABLE secrets DROP COLUMN state_mac;
