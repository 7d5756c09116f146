package pgstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

var (
	pg      *devserver.Postgres
	startPG error
	dbN     int
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	pg, startPG = devserver.StartPostgres(ctx, devserver.PostgresOptions{})
	cancel()
	code := m.Run()
	if pg != nil {
		pg.Close()
	}
	os.Exit(code)
}

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	devtest.Check(t, startPG)
	ctx := context.Background()
	dbN++
	url, err := pg.CreateDatabase(ctx, fmt.Sprintf("pgstore_%d", dbN))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgstore.NewPool(ctx, url, pgstore.PoolOptions{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := newPool(t)
	if _, err := pgstore.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func record(id int, key string, at time.Time) payment.AuditRecord {
	return payment.AuditRecord{
		RequestID:  fmt.Sprintf("00000000-0000-7000-8000-%012d", id),
		MerchantID: "m1", IdempotencyKey: key,
		Fingerprint: bytes.Repeat([]byte{byte(id)}, 32), CardHash: bytes.Repeat([]byte{9}, 32),
		CardLast4: "1111", CardBrand: "visa", AmountMinor: 100, Currency: "EUR", Country: "DE",
		TxnTime: at, Decision: payment.Approve, Reasons: []payment.Reason{}, DecidedAt: at,
	}
}

func count(t *testing.T, pool *pgxpool.Pool, q string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrationsRunOnceUnderConcurrency(t *testing.T) {
	pool := newPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = pgstore.Migrate(context.Background(), pool) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM goose_db_version WHERE version_id = 1`); n != 1 {
		t.Fatalf("migration 1 recorded %d times", n)
	}
}

// TestGroupCommitWithDuplicateKeys sends records concurrently, some sharing one key
// (as when Redis lost a claim): every record gets an answer, one row per key.
func TestGroupCommitWithDuplicateKeys(t *testing.T) {
	pool := migrated(t)
	reg := prometheus.NewRegistry()
	log := pgstore.NewAuditLog(pool, pgstore.AuditOptions{Writers: 2, BatchMax: 64, Timeout: 5 * time.Second, IdempotencyTTL: 24 * time.Hour}, reg)
	defer log.Close()
	now := time.Now().UTC()
	var wg sync.WaitGroup
	var mu sync.Mutex
	dups, fresh := 0, 0
	for i := 1; i <= 60; i++ {
		key := fmt.Sprintf("k%d", i)
		if i <= 20 {
			key = "shared"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			existing, err := log.Record(context.Background(), record(i, key, now))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			} else if existing != nil {
				dups++
				if existing.Result.Decision != payment.Approve || len(existing.Fingerprint) != 32 {
					t.Errorf("bad existing: %+v", existing)
				}
			} else {
				fresh++
			}
		}()
	}
	wg.Wait()
	if fresh != 41 || dups != 19 {
		t.Fatalf("fresh %d dups %d; want 41 and 19", fresh, dups)
	}
	if n := count(t, pool, `SELECT count(*) FROM audit_decisions`); n != 41 {
		t.Fatalf("%d rows", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM idempotency_keys k JOIN audit_decisions a USING (request_id)`); n != 41 {
		t.Fatalf("%d keys bound to rows", n)
	}
}

func TestKeyReusableAfterTTLAndPurge(t *testing.T) {
	pool := migrated(t)
	log := pgstore.NewAuditLog(pool, pgstore.AuditOptions{Writers: 1, BatchMax: 8, Timeout: 5 * time.Second, IdempotencyTTL: 24 * time.Hour}, prometheus.NewRegistry())
	defer log.Close()
	ctx := context.Background()
	old := time.Now().UTC().Add(-25 * time.Hour)
	if ex, err := log.Record(ctx, record(1, "reused", old)); err != nil || ex != nil {
		t.Fatal(ex, err)
	}
	if ex, err := log.Record(ctx, record(2, "expiring", old)); err != nil || ex != nil {
		t.Fatal(ex, err)
	}
	now := time.Now().UTC()
	// Lookup follows the same rule: an expired key is free, a live one gives its decision.
	if st, err := log.Lookup(ctx, "m1", "reused", now); err != nil || st != nil {
		t.Fatalf("lookup of an expired key: %+v %v", st, err)
	}
	if st, err := log.Lookup(ctx, "m1", "reused", old.Add(time.Hour)); err != nil || st == nil || st.Result.RequestID != record(1, "", old).RequestID {
		t.Fatalf("lookup within the TTL: %+v %v", st, err)
	}
	if st, err := log.Lookup(ctx, "m1", "never-used", now); err != nil || st != nil {
		t.Fatalf("lookup of an unused key: %+v %v", st, err)
	}
	if ex, err := log.Record(ctx, record(3, "reused", now)); err != nil || ex != nil {
		t.Fatalf("key not reusable after its TTL: %v %v", ex, err)
	}
	st, err := log.Lookup(ctx, "m1", "reused", now)
	if err != nil || st == nil || st.Result.RequestID != record(3, "", now).RequestID || !bytes.Equal(st.Fingerprint, record(3, "", now).Fingerprint) ||
		st.Result.Decision != payment.Approve || !st.Result.DecidedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("lookup after reuse: %+v %v", st, err)
	}
	n, err := pgstore.PurgeIdempotencyKeys(ctx, pool, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	if c := count(t, pool, `SELECT count(*) FROM audit_decisions`); c != 3 {
		t.Fatalf("purge touched the audit log: %d rows", c)
	}
}

func TestRecordAfterCloseFails(t *testing.T) {
	pool := migrated(t)
	log := pgstore.NewAuditLog(pool, pgstore.AuditOptions{Writers: 1, BatchMax: 8, Timeout: time.Second, IdempotencyTTL: time.Hour}, prometheus.NewRegistry())
	log.Close()
	if _, err := log.Record(context.Background(), record(1, "k", time.Now())); err != pgstore.ErrClosed {
		t.Fatalf("got %v", err)
	}
}
