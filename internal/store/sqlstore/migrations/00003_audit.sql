-- +goose Up
-- The audit chain (docs/audit.md). Times are Unix nanoseconds (UTC): the
-- chain hashes nanoseconds, so the store keeps them exactly.
CREATE TABLE audit_events (
    seq        {{.Int64}} PRIMARY KEY,
    prev       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    time_ns    {{.Int64}} NOT NULL,
    service    TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL,
    secret     TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 0,
    outcome    TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    request_id TEXT    NOT NULL DEFAULT '',
    source     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
);
-- Every index is written by every audited read, so there are two: by
-- secret (audit query --secret, incident report) and by service. Queries by
-- action or time alone scan the table.
CREATE INDEX audit_events_secret  ON audit_events (secret, seq);
CREATE INDEX audit_events_service ON audit_events (service, seq);

CREATE TABLE audit_checkpoints (
    id      {{.ID}} PRIMARY KEY,
    seq     {{.Int64}} NOT NULL,
    hash    TEXT    NOT NULL,
    time_ns {{.Int64}} NOT NULL,
    key_id  TEXT    NOT NULL DEFAULT '',
    mac     TEXT    NOT NULL DEFAULT ''
);

-- How far each publisher (e.g. "kafka:sa01.audit") shipped the chain.
CREATE TABLE audit_cursors (
    name TEXT    PRIMARY KEY,
    seq  {{.Int64}} NOT NULL
);

-- +goose Down
DROP TABLE audit_cursors;
DROP TABLE audit_checkpoints;
DROP TABLE audit_events;
