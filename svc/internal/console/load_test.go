package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// loadSQL generates n audit rows on the server (no client round trip per row), one
// every step seconds from start, deterministic in i: 1,000 merchants, last four digits
// spread over 10,000 values, 5% declines (card_expired), 2% reviews
// (merchant_limit_exceeded), one in a thousand a console test. Request ids are
// UUIDv7-shaped and grow with i, as the validator's do.
const loadSQL = `
INSERT INTO audit_decisions (request_id, merchant_id, idempotency_key, fingerprint, card_hash, card_last4,
    card_brand, amount_minor, currency, country, txn_time, decision, reasons, decided_at, test)
SELECT (lpad(to_hex(i), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       'm_' || (i % 1000), 'k' || i, sha256(int8send(i)), sha256(int8send(-i)),
       lpad(((i * 7919) % 10000)::text, 4, '0'), 'visa', 100 + i % 100000, 'EUR', 'DE',
       $1::timestamptz + make_interval(secs => i * $3::float8),
       CASE WHEN i % 20 = 0 THEN 'decline' WHEN i % 50 = 1 THEN 'review' ELSE 'approve' END,
       CASE WHEN i % 20 = 0 THEN ARRAY['card_expired'] WHEN i % 50 = 1 THEN ARRAY['merchant_limit_exceeded'] ELSE ARRAY[]::text[] END,
       $1::timestamptz + make_interval(secs => i * $3::float8),
       i % 1000 = 0
FROM generate_series($4::bigint, $2::bigint) AS i`

// loadDecisions fills a fresh, migrated database with n rows in chunks (each its own
// transaction, so the loader's memory and WAL stay bounded), then ANALYZEs it.
func loadDecisions(t testing.TB, admin *pgxpool.Pool, n int64, start time.Time, step time.Duration) {
	t.Helper()
	ctx := context.Background()
	const chunk = 250_000
	for lo := int64(1); lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		if _, err := admin.Exec(ctx, loadSQL, start, hi, step.Seconds(), lo); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Exec(ctx, `VACUUM ANALYZE audit_decisions`); err != nil {
		t.Fatal(err)
	}
}

// auditDB is a migrated database and two pools on it: admin (the owner) and reader, a
// login in txv_audit_reader, which is exactly what the console's role may do.
func auditDB(t testing.TB, pg *devserver.Postgres) (admin, reader *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	var err error
	if admin, err = pgstore.NewPool(ctx, pg.URL, pgstore.PoolOptions{MaxConns: 4}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := pgstore.Migrate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `CREATE ROLE console_search LOGIN IN ROLE txv_audit_reader`); err != nil {
		t.Fatal(err)
	}
	if reader, err = pgstore.NewPool(ctx, strings.Replace(pg.URL, "postgres@", "console_search@", 1), pgstore.PoolOptions{MaxConns: 4, StatementMode: "exec"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	return admin, reader
}

func startPostgres(t testing.TB) *devserver.Postgres {
	t.Helper()
	return devtest.Postgres(t, devserver.PostgresOptions{})
}
