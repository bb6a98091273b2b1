-- +goose Up
-- Incidents (docs/audit.md). data is the whole incident as JSON; the other
-- columns are for listing. Times are Unix nanoseconds (UTC).
CREATE TABLE incidents (
    id        TEXT    PRIMARY KEY,
    secret    TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    opened_ns {{.Int64}} NOT NULL,
    closed_ns {{.Int64}},
    data      TEXT    NOT NULL
);
CREATE INDEX incidents_opened ON incidents (opened_ns);

-- +goose Down
DROP TABLE incidents;
