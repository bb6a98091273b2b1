-- +goose Up
-- The decision_id of the OPA decision on each access (docs/opa.md), hashed
-- into the chain when not empty, so that OPA's decision log and the audit
-- trail join.
ALTER TABLE audit_events ADD COLUMN decision_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN decision_id;
