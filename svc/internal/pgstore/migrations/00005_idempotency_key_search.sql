-- +goose NO TRANSACTION
-- +goose Up
-- The operator console finds a decision by the idempotency key the merchant sent with it
-- (svc/internal/console/search.go; why the key and not a hash of it:
-- docs/operator-console.md, "Searching by idempotency key").
--
-- The key is already stored with every decision (audit_decisions.idempotency_key, 00001):
-- replays need it. The console's role still may not read it (00002): a key is the
-- merchant's free text, and a console compromise should leak no more than its pages do.
-- So the console gets a function that answers "which decisions carry exactly this key"
-- and nothing else: SECURITY DEFINER (it reads the column as the table's owner), an
-- exact match only (no LIKE, no listing), and EXECUTE granted to txv_audit_reader alone.
--
--   audit_decisions_idempotency_key   the function's lookup: one index probe per key.
--
-- CONCURRENTLY, as in 00004: the validator keeps inserting while the index builds; a
-- failed build leaves an INVALID index, which the retry drops first.
-- +goose StatementBegin
DO $$
DECLARE
    ix text;
BEGIN
    FOR ix IN SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
              WHERE NOT i.indisvalid AND c.relname = 'audit_decisions_idempotency_key' LOOP
        EXECUTE format('DROP INDEX %I', ix);
    END LOOP;
END
$$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_decisions_idempotency_key ON audit_decisions (idempotency_key);

-- search_path is pinned to the migration's own: a SECURITY DEFINER function must not
-- resolve names through a schema its caller chose. ROWS 1: a key names one decision per
-- merchant, so the planner joins the result to the primary key, not the other way round.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION console_decisions_by_idempotency_key(key text)
    RETURNS SETOF uuid
    LANGUAGE sql STABLE STRICT SECURITY DEFINER ROWS 1
    SET search_path FROM CURRENT
AS $$
    SELECT request_id FROM audit_decisions WHERE idempotency_key = key
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION console_decisions_by_idempotency_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION console_decisions_by_idempotency_key(text) TO txv_audit_reader;

-- +goose Down
DROP FUNCTION IF EXISTS console_decisions_by_idempotency_key(text);
DROP INDEX CONCURRENTLY IF EXISTS audit_decisions_idempotency_key;
