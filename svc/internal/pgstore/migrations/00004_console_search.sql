-- +goose NO TRANSACTION
-- +goose Up
-- What the operator console's search needs (svc/internal/console/search.go): pages of
-- decisions in (decided_at DESC, request_id DESC) order over a time range, optionally by
-- merchant, by last four digits or by request id, with keyset paging. Measured in
-- docs/performance.md.
--
--   audit_decisions_time         the range and the keyset: every search walks it
--                                backwards and stops after one page. (A BRIN index on
--                                decided_at would be smaller but cannot return rows in
--                                order, so each page would sort the whole range.)
--   audit_decisions_last4_time   a card's decisions by last four.
-- By merchant: audit_decisions_merchant_time (00001). By request id: the primary key.
--
-- CONCURRENTLY (so outside a transaction, hence NO TRANSACTION): the validator keeps
-- inserting while the indexes build. A build that fails leaves an INVALID index; IF NOT
-- EXISTS would then skip it, so the retry drops an invalid one first.
-- +goose StatementBegin
DO $$
DECLARE
    ix text;
BEGIN
    FOR ix IN SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
              WHERE NOT i.indisvalid AND c.relname IN ('audit_decisions_time', 'audit_decisions_last4_time') LOOP
        EXECUTE format('DROP INDEX %I', ix);
    END LOOP;
END
$$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_decisions_time ON audit_decisions (decided_at, request_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_decisions_last4_time ON audit_decisions (card_last4, decided_at);

-- The detail view and the search show these too: still no card hash, fingerprint or
-- idempotency key.
GRANT SELECT (request_id, txn_time, country) ON audit_decisions TO txv_audit_reader;

-- +goose Down
REVOKE SELECT (request_id, txn_time, country) ON audit_decisions FROM txv_audit_reader;
DROP INDEX CONCURRENTLY IF EXISTS audit_decisions_last4_time;
DROP INDEX CONCURRENTLY IF EXISTS audit_decisions_time;
