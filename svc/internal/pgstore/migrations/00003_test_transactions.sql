-- +goose Up
-- Test transactions an operator submits from the operator console are decided and audited
-- like real ones (PCI DSS 10.2: every action is recorded), but marked, so that velocity,
-- metrics and the console's figures can leave them out. The validator sets the marker
-- only for requests on its console-test listener; no request body can set it.
--
-- Safe on a running fleet: since PostgreSQL 11 a column with a constant default is added
-- without rewriting the table (the default lives in the catalogue), so this holds the
-- table's ACCESS EXCLUSIVE lock for milliseconds. lock_timeout keeps the migration from
-- queueing behind a long reader and stalling every writer queued behind it: it fails
-- instead, and the next attempt retries. Replicas still on the previous version insert
-- without the column and get the default, false, which is right: they have no
-- console-test listener.
SET LOCAL lock_timeout = '5s';
ALTER TABLE audit_decisions ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;
GRANT SELECT (test) ON audit_decisions TO txv_audit_reader;

-- +goose Down
REVOKE SELECT (test) ON audit_decisions FROM txv_audit_reader;
ALTER TABLE audit_decisions DROP COLUMN test;
