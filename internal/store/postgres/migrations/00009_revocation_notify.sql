-- +goose Up
-- Revocations reach every node at once (docs/server.md, "Revocation on
-- every node"): each change that takes away an access an authenticated
-- caller holds sends NOTIFY sa01_secrets_revocation with the name of the
-- identity concerned. Every node listens and drops its cached token and
-- identity records of that name. NOTIFY is delivered at commit and only on
-- commit: a revocation rolled back announces nothing. Triggers cover every
-- program that writes the tables, not only the server.
-- +goose StatementBegin
CREATE FUNCTION sa01_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    -- TG_ARGV[0] names the column holding the identity's name.
    PERFORM pg_notify('sa01_secrets_revocation', to_jsonb(r) ->> TG_ARGV[0]);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER tokens_revocation AFTER UPDATE OF revoked_at ON tokens FOR EACH ROW
    WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
    EXECUTE FUNCTION sa01_notify_revocation('service');
CREATE TRIGGER tokens_deletion AFTER DELETE ON tokens FOR EACH ROW
    EXECUTE FUNCTION sa01_notify_revocation('service');
CREATE TRIGGER identities_revocation AFTER UPDATE OF revoked_at ON identities FOR EACH ROW
    WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
    EXECUTE FUNCTION sa01_notify_revocation('name');
CREATE TRIGGER identities_deletion AFTER DELETE ON identities FOR EACH ROW
    EXECUTE FUNCTION sa01_notify_revocation('name');
CREATE TRIGGER credentials_revocation AFTER UPDATE OF revoked_at, expires_at ON credentials FOR EACH ROW
    WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.expires_at < OLD.expires_at)
    EXECUTE FUNCTION sa01_notify_revocation('identity');

-- +goose Down
DROP TRIGGER credentials_revocation ON credentials;
DROP TRIGGER identities_deletion ON identities;
DROP TRIGGER identities_revocation ON identities;
DROP TRIGGER tokens_deletion ON tokens;
DROP TRIGGER tokens_revocation ON tokens;
DROP FUNCTION sa01_notify_revocation();
