-- +goose Up
-- Database roles of the two applications, so that each login can do exactly its job.
--
--   txv_validator      (NOLOGIN group) what transaction-validator does: append decisions
--                      to the audit log and read them back for idempotent replays; take,
--                      refresh and purge idempotency keys; read merchant limits. Never
--                      UPDATE or DELETE an audit row (PCI DSS 10.3.2: the audit trail is
--                      protected from modification).
--   txv_audit_reader   (NOLOGIN group) what operator-console does: SELECT on exactly the
--                      columns of audit_decisions it shows. Not the card hash, the request
--                      fingerprint or the idempotency key: a console compromise leaks no
--                      more than the page does.
--   transaction_validator, operator_console
--                      the logins infra/ generates passwords (or IAM auth) for, members of
--                      the groups above. Created here NOLOGIN when they do not exist yet;
--                      an existing login is left as it is. Enabling the login is the one
--                      step that needs the password, so it is not in a migration:
--                        ALTER ROLE operator_console LOGIN PASSWORD '<from its secret>';
--                      ("iam" mode: ALTER ROLE ... LOGIN; GRANT rds_iam TO ...).
--
-- Roles are cluster-wide and several databases may share a server (the tests do), so every
-- CREATE is guarded and nothing here fails when a role already exists. Needs CREATEROLE:
-- run migrations as the master user (`transaction-validator migrate` with
-- MIGRATION_DATABASE_URL), not as the application login.
-- +goose StatementBegin
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['txv_validator', 'txv_audit_reader', 'transaction_validator', 'operator_console'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

GRANT txv_validator TO transaction_validator;
GRANT txv_audit_reader TO operator_console;

-- Explicit REVOKEs first: a re-run (or a role that existed with more) ends with exactly
-- these privileges.
REVOKE ALL ON audit_decisions, idempotency_keys, merchant_limits FROM txv_validator, txv_audit_reader;

GRANT SELECT, INSERT ON audit_decisions TO txv_validator;
-- INSERT ... ON CONFLICT DO UPDATE takes an expired key; the purge deletes expired keys.
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO txv_validator;
GRANT SELECT ON merchant_limits TO txv_validator;
-- With MIGRATE_ON_START the validator checks for pending migrations at start-up; reading
-- goose's version table is all it needs when the migration job has already run.
GRANT SELECT ON goose_db_version TO txv_validator;

GRANT SELECT (decided_at, merchant_id, amount_minor, currency, card_brand, card_last4, decision, reasons)
    ON audit_decisions TO txv_audit_reader;

-- +goose Down
-- Privileges only: the roles are cluster-wide and may serve other databases.
REVOKE ALL ON audit_decisions, idempotency_keys, merchant_limits, goose_db_version FROM txv_validator, txv_audit_reader;
REVOKE SELECT (decided_at, merchant_id, amount_minor, currency, card_brand, card_last4, decision, reasons)
    ON audit_decisions FROM txv_audit_reader;
