package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// asRole opens a pool on a fresh migrated database whose every connection runs as role
// (SET ROLE from the test server's superuser: privileges are then exactly the role's).
func asRole(t *testing.T, role string) (admin, pool *pgxpool.Pool) {
	t.Helper()
	devtest.Check(t, startPG)
	ctx := context.Background()
	dbN++
	url, err := pg.CreateDatabase(ctx, fmt.Sprintf("pgstore_roles_%d", dbN))
	if err != nil {
		t.Fatal(err)
	}
	admin, err = pgstore.NewPool(ctx, url, pgstore.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := pgstore.Migrate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize())
		return err
	}
	pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return admin, pool
}

func denied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501" // insufficient_privilege
}

// The validator's login does its whole job through the real code paths: group commit,
// idempotent replay, taking an expired key, the purge, merchant limits; and cannot
// rewrite or delete the audit trail.
func TestValidatorRoleDoesItsJobAndNoMore(t *testing.T) {
	admin, pool := asRole(t, "transaction_validator")
	ctx := context.Background()
	log := pgstore.NewAuditLog(pool, pgstore.AuditOptions{Writers: 1, BatchMax: 8, Timeout: 5 * time.Second, IdempotencyTTL: 24 * time.Hour,
		Replica: "transaction-validator-7d9f-abcde"}, prometheus.NewRegistry())
	defer log.Close()
	old := time.Now().UTC().Add(-25 * time.Hour)
	if ex, err := log.Record(ctx, record(1, "k", old)); err != nil || ex != nil {
		t.Fatalf("insert as transaction_validator: %v %v", ex, err)
	}
	if ex, err := log.Record(ctx, record(2, "k", old)); err != nil || ex == nil {
		t.Fatalf("idempotent replay as transaction_validator: %v %v", ex, err)
	}
	// The replica that decided, and each replay of the decision (migration 00006).
	for range 2 {
		if err := log.RecordReplay(ctx, record(1, "k", old).RequestID, time.Now()); err != nil {
			t.Fatalf("record a replay as transaction_validator: %v", err)
		}
	}
	if n := count(t, admin, `SELECT count(*) FROM audit_decisions a JOIN audit_replays r USING (request_id, replica)
		WHERE request_id = '00000000-0000-7000-8000-000000000001' AND replica = 'transaction-validator-7d9f-abcde'`); n != 2 {
		t.Fatalf("replica and replays recorded: %d rows, want 2", n)
	}
	if ex, err := log.Record(ctx, record(3, "k", time.Now().UTC())); err != nil || ex != nil {
		t.Fatalf("taking an expired key as transaction_validator: %v %v", ex, err)
	}
	if _, err := log.Record(ctx, record(4, "expiring", old)); err != nil {
		t.Fatal(err)
	}
	if n, err := pgstore.PurgeIdempotencyKeys(ctx, pool, 24*time.Hour); err != nil || n != 1 {
		t.Fatalf("purge as transaction_validator: %d %v", n, err)
	}
	if _, err := admin.Exec(ctx, `INSERT INTO merchant_limits VALUES ('m1', 'EUR', 1000)`); err != nil {
		t.Fatal(err)
	}
	if l, err := pgstore.NewMerchantLimits(ctx, pool); err != nil {
		t.Fatalf("merchant limits as transaction_validator: %v", err)
	} else if max, ok := l.MaxAmount("m1", "EUR"); !ok || max != 1000 {
		t.Fatalf("limit %d %v", max, ok)
	}
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatalf("start-up migration check (nothing pending) as transaction_validator: %v", err)
	}
	for _, q := range []string{
		`UPDATE audit_decisions SET decision = 'approve'`,
		`DELETE FROM audit_decisions`,
		`TRUNCATE audit_decisions`,
		`UPDATE audit_replays SET replica = 'x'`,
		`DELETE FROM audit_replays`,
		`UPDATE merchant_limits SET max_amount_minor = 1`,
		`INSERT INTO merchant_limits VALUES ('m2', 'EUR', 1)`,
		`DROP TABLE idempotency_keys`,
		`CREATE TABLE sneaky (x int)`,
	} {
		if _, err := pool.Exec(ctx, q); err == nil || (!denied(err) && !isOwnerError(err)) {
			t.Errorf("transaction_validator may %q (err %v)", q, err)
		}
	}
}

// isOwnerError: DROP on a table one does not own fails with 42501 too, but CREATE in a
// schema without the privilege may also say so; both are "not allowed".
func isOwnerError(err error) bool { return denied(err) }

// The console's login can run exactly the console's two queries and nothing else: no
// write of any kind, no other table, not even the card hash column of the table it reads.
func TestConsoleRoleIsReadOnly(t *testing.T) {
	admin, pool := asRole(t, "operator_console")
	ctx := context.Background()
	log := pgstore.NewAuditLog(admin, pgstore.AuditOptions{Writers: 1, BatchMax: 8, Timeout: 5 * time.Second, IdempotencyTTL: time.Hour}, prometheus.NewRegistry())
	if _, err := log.Record(ctx, record(1, "k", time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	log.Close()
	since := time.Now().Add(-15 * time.Minute)
	// The queries of svc/internal/console (recent counts, latest rows).
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_decisions WHERE decided_at > $1`, since).Scan(&n); err != nil || n != 1 {
		t.Fatalf("console count query: %d %v", n, err)
	}
	rows, err := pool.Query(ctx, `SELECT decided_at, merchant_id, amount_minor, currency, card_brand, card_last4, decision, reasons, test
		FROM audit_decisions WHERE decided_at > $1 ORDER BY decided_at DESC LIMIT 20`, since)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if rows.Err() != nil {
		t.Fatalf("console latest-rows query: %v", rows.Err())
	}
	// The idempotency-key search: exact keys only.
	var found int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM console_decisions_by_idempotency_key('k')`).Scan(&found); err != nil || found != 1 {
		t.Fatalf("console key lookup: %d %v", found, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM console_decisions_by_idempotency_key('%')`).Scan(&found); err != nil || found != 0 {
		t.Fatalf("console key lookup matches a pattern: %d %v", found, err)
	}
	for _, q := range []string{
		`INSERT INTO audit_decisions SELECT * FROM audit_decisions`,
		`UPDATE audit_decisions SET decision = 'decline'`,
		`DELETE FROM audit_decisions`,
		`TRUNCATE audit_decisions`,
		`SELECT card_hash FROM audit_decisions`,
		`SELECT * FROM audit_decisions`,
		// The key is matched for it (migration 00005), never read, nor probed with LIKE.
		`SELECT idempotency_key FROM audit_decisions`,
		`SELECT count(*) FROM audit_decisions WHERE idempotency_key LIKE 'k%'`,
		`SELECT count(*) FROM idempotency_keys`,
		`DELETE FROM idempotency_keys`,
		`SELECT count(*) FROM merchant_limits`,
		`INSERT INTO merchant_limits VALUES ('m2', 'EUR', 1)`,
		`CREATE TABLE sneaky (x int)`,
	} {
		if _, err := pool.Exec(ctx, q); !denied(err) {
			t.Errorf("operator_console may %q (err %v)", q, err)
		}
	}
	if c := count(t, admin, `SELECT count(*) FROM audit_decisions`); c != 1 {
		t.Fatalf("audit rows changed: %d", c)
	}
}

// Roles are cluster-wide: migrating a second database on the same server (roles already
// there) must succeed, and re-granting must not widen anything.
func TestRolesMigrationIsRepeatable(t *testing.T) {
	asRole(t, "operator_console")
	_, pool := asRole(t, "operator_console")
	if _, err := pool.Exec(context.Background(), `DELETE FROM audit_decisions`); !denied(err) {
		t.Fatalf("second database: console may delete (err %v)", err)
	}
	var login bool
	if err := pool.QueryRow(context.Background(), `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'txv_audit_reader'`).Scan(&login); err != nil || login {
		t.Fatalf("group role txv_audit_reader can log in: %v %v", login, err)
	}
}
