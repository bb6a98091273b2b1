-- +goose Up
-- The store's generation (docs/server.md, "Read path and its cache"): one
-- number that every change to a secret or a version moves, whichever node
-- or program makes it. The server's read cache serves a cached current
-- version only when the transaction that commits the read's audit event
-- still finds the generation the version was read at.
--
-- Every write transaction of the store begins by moving it (writeTx in
-- postgres.go), so writers take the generation's row lock before any lock
-- on a secret or a version row and cannot deadlock on each other. The
-- triggers, which run BEFORE each statement, cover single statements and
-- changes made by other programs.
CREATE TABLE store_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT  NOT NULL
);
INSERT INTO store_generation (id, n) VALUES (1, 1);

-- +goose StatementBegin
CREATE FUNCTION sa01_bump_generation() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE store_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER secrets_generation BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON secrets
    FOR EACH STATEMENT EXECUTE FUNCTION sa01_bump_generation();
CREATE TRIGGER versions_generation BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON versions
    FOR EACH STATEMENT EXECUTE FUNCTION sa01_bump_generation();

-- +goose Down
DROP TRIGGER versions_generation ON versions;
DROP TRIGGER secrets_generation ON secrets;
DROP FUNCTION sa01_bump_generation();
DROP TABLE store_generation;
