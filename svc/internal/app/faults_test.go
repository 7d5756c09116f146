package app_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// The fault model, tested here against real servers that are stopped or frozen while
// the service runs (docs/service.md describes it for operators):
//   - every call to a store has a time-out (REDIS_TIMEOUT, DB_TIMEOUT, REQUEST_TIMEOUT);
//   - a failed or timed-out store answers 503 dependency_unavailable with Retry-After;
//   - nothing is half-written: the idempotency claim is released and the velocity hit
//     undone, so a retry with the same key is decided normally;
//   - /readyz reports the failing store, and recovers without a restart.

func assertUnavailable(t *testing.T, a answer) {
	t.Helper()
	if a.Status != 503 || a.errCode() != "dependency_unavailable" || a.Header.Get("Retry-After") == "" {
		t.Fatalf("want 503 dependency_unavailable with Retry-After, got %d %v %s", a.Status, a.Header, a.Raw)
	}
}

func TestRedisStoppedAndRestarted(t *testing.T) {
	db, _ := freshDB(t)
	rds := devtest.Redis(t, devserver.RedisOptions{})
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds.Endpoint, "REDIS_TIMEOUT": "200ms"})
	first := r.post(t, "rs-1", txn("4111111111111111", 100))
	if first.Status != 200 {
		t.Fatalf("%d %s", first.Status, first.Raw)
	}

	rds.Stop()
	assertUnavailable(t, r.post(t, "rs-2", txn("4111111111111111", 200)))
	if code, body := r.get(t, r.base+"/readyz"); code != 503 || !strings.Contains(body, `"postgres":"ok"`) {
		t.Fatalf("readyz with Redis down: %d %s", code, body)
	}
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions`); c != 1 {
		t.Fatalf("%d audit rows; the failed request must leave none", c)
	}

	// Redis comes back empty (no persistence, as after a cache node replacement).
	if err := rds.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "readyz after Redis is back", func() bool {
		code, _ := r.get(t, r.base+"/readyz")
		return code == 200
	})
	if a := r.post(t, "rs-2", txn("4111111111111111", 200)); a.Status != 200 || a.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after recovery: %d %s", a.Status, a.Raw)
	}
	// The cache lost rs-1, PostgreSQL did not: the repeat is still answered from the audit log.
	again := r.post(t, "rs-1", txn("4111111111111111", 100))
	if again.Status != 200 || again.Body["request_id"] != first.Body["request_id"] || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after cache loss: %d %s (first %s)", again.Status, again.Raw, first.Raw)
	}
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions`); c != 2 {
		t.Fatalf("%d audit rows, want 2", c)
	}
}

func TestRedisHung(t *testing.T) {
	db, _ := freshDB(t)
	rds := devtest.Redis(t, devserver.RedisOptions{})
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds.Endpoint, "REDIS_TIMEOUT": "200ms"})
	if a := r.post(t, "rh-1", txn("4111111111111111", 100)); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Raw)
	}
	if err := rds.Freeze(); err != nil {
		t.Fatal(err)
	}
	// The answer comes from the time-out, long before the client's own 20 s time-out.
	assertUnavailable(t, r.post(t, "rh-2", txn("4111111111111111", 200)))
	if code, _ := r.get(t, r.base+"/readyz"); code != 503 {
		t.Fatalf("readyz with Redis hung: %d", code)
	}
	if err := rds.Thaw(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "service recovers after Redis resumes", func() bool {
		return r.post(t, "rh-2", txn("4111111111111111", 200)).Status == 200
	})
}

func TestPostgresStoppedAndRestarted(t *testing.T) {
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	db, err := pg.CreateDatabase(context.Background(), "faults")
	if err != nil {
		t.Fatal(err)
	}
	_, rdsURL := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rdsURL, "DB_TIMEOUT": "1s"})
	if a := r.post(t, "ps-1", txn("4111111111111111", 100)); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Raw)
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(rdsURL, "redis://")})
	defer rdb.Close()
	ctx := context.Background()
	merchantCount := func() string {
		keys, _ := rdb.Keys(ctx, "txv:vel:merchant:m_1:*").Result()
		if len(keys) == 0 {
			return "0"
		}
		n, _ := rdb.HLen(ctx, keys[0]).Result()
		return strconv.FormatInt(n, 10)
	}
	before := merchantCount()

	pg.Stop()
	assertUnavailable(t, r.post(t, "ps-2", txn("4111111111111111", 200)))
	if n, _ := rdb.Exists(ctx, "txv:idem:m_1:ps-2").Result(); n != 0 {
		t.Fatal("idempotency claim left behind after a failed write")
	}
	if after := merchantCount(); after != before {
		t.Fatalf("velocity count %s after a failed request, was %s", after, before)
	}
	if code, body := r.get(t, r.base+"/readyz"); code != 503 || !strings.Contains(body, `"redis":"ok"`) {
		t.Fatalf("readyz with PostgreSQL down: %d %s", code, body)
	}

	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "retry succeeds once PostgreSQL is back", func() bool {
		a := r.post(t, "ps-2", txn("4111111111111111", 200))
		return a.Status == 200 && a.Header.Get("Idempotent-Replayed") == ""
	})
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE idempotency_key = 'ps-2'`); c != 1 {
		t.Fatalf("%d rows for the retried key", c)
	}
}

func TestPostgresHung(t *testing.T) {
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	db, err := pg.CreateDatabase(context.Background(), "hung")
	if err != nil {
		t.Fatal(err)
	}
	_, rdsURL := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rdsURL, "DB_TIMEOUT": "500ms", "REQUEST_TIMEOUT": "2s"})
	if a := r.post(t, "ph-1", txn("4111111111111111", 100)); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Raw)
	}
	if err := pg.Freeze(); err != nil {
		t.Fatal(err)
	}
	assertUnavailable(t, r.post(t, "ph-2", txn("4111111111111111", 200)))
	if err := pg.Thaw(); err != nil {
		t.Fatal(err)
	}
	// The frozen write may or may not have committed when the server resumed: either
	// way the retry yields exactly one decision for the key.
	var a answer
	eventually(t, 15*time.Second, "retry after PostgreSQL resumes", func() bool {
		a = r.post(t, "ph-2", txn("4111111111111111", 200))
		return a.Status == 200
	})
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE idempotency_key = 'ph-2'`); c != 1 {
		t.Fatalf("%d rows for the key after a hung write and a retry (%s)", c, a.Raw)
	}
	t.Logf("retry answer: replayed=%q", a.Header.Get("Idempotent-Replayed"))
}
