-- +goose Up
-- The store's generation (docs/server.md, "Read path and its cache"): one number that
-- every change to a secret or a version moves. Triggers move it, so a
-- change made by any process or tool on this file counts, not only those
-- made through sa01-secrets. The server's read cache serves a cached
-- current version only when the audit transaction that records the read
-- still finds the generation the version was read at.
CREATE TABLE store_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO store_generation (id, n) VALUES (1, 1);

-- +goose StatementBegin
CREATE TRIGGER secrets_generation_insert AFTER INSERT ON secrets
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER secrets_generation_update AFTER UPDATE ON secrets
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER secrets_generation_delete AFTER DELETE ON secrets
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER versions_generation_insert AFTER INSERT ON versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER versions_generation_update AFTER UPDATE ON versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER versions_generation_delete AFTER DELETE ON versions
BEGIN UPDATE store_generation SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER versions_generation_delete;
DROP TRIGGER versions_generation_update;
DROP TRIGGER versions_generation_insert;
DROP TRIGGER secrets_generation_delete;
DROP TRIGGER secrets_generation_update;
DROP TRIGGER secrets_generation_insert;
DROP TABLE store_generation;
