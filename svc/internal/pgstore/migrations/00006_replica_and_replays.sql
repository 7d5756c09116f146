-- +goose Up
-- What the operator console's detail view shows about how a decision was served
-- (docs/operator-console.md, "Replica and replays"):
--
--   audit_decisions.replica   the pod that decided (POD_NAME, from the downward API).
--   audit_replays             one row per idempotent replay answered from the stored
--                             decision: when, and by which pod. Rows are only ever
--                             inserted, like the audit log's own (PCI DSS 10.3.2); the
--                             count is a count, not a counter someone could UPDATE.
--
-- Safe on a running fleet, as 00003: a column with a constant default is added without a
-- table rewrite, so the ACCESS EXCLUSIVE lock is held for milliseconds; lock_timeout makes
-- the migration fail (and retry) rather than queue writers behind a long reader. The new
-- table is empty, so its foreign key needs no validation scan, only a short SHARE ROW
-- EXCLUSIVE lock on audit_decisions. Replicas still on the previous version insert
-- without the column and get '' ("not recorded"), and record no replays.
SET LOCAL lock_timeout = '5s';
ALTER TABLE audit_decisions ADD COLUMN IF NOT EXISTS replica text NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS audit_replays (
    request_id   uuid        NOT NULL REFERENCES audit_decisions (request_id),
    replayed_at  timestamptz NOT NULL,
    replica      text        NOT NULL CHECK (length(replica) <= 253)
);
CREATE INDEX IF NOT EXISTS audit_replays_request ON audit_replays (request_id, replayed_at);

REVOKE ALL ON audit_replays FROM txv_validator, txv_audit_reader;
GRANT INSERT ON audit_replays TO txv_validator;
GRANT SELECT ON audit_replays TO txv_audit_reader;
GRANT SELECT (replica) ON audit_decisions TO txv_audit_reader;

-- +goose Down
REVOKE SELECT (replica) ON audit_decisions FROM txv_audit_reader;
DROP TABLE audit_replays;
ALTER TABLE audit_decisions DROP COLUMN replica;
