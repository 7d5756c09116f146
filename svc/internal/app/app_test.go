package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

func countRows(t *testing.T, dbURL, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEndToEndOnPostgresAndRedis(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds})

	ok := r.post(t, "e2e-1", txn("4111111111111111", 1999))
	if ok.Status != 200 || ok.Body["decision"] != "approve" {
		t.Fatalf("approve: %d %s", ok.Status, ok.Raw)
	}
	bad := r.post(t, "e2e-2", txn("4111111111111112", 1999))
	if bad.Body["decision"] != "decline" {
		t.Fatalf("decline: %s", bad.Raw)
	}
	replay := r.post(t, "e2e-1", txn("4111111111111111", 1999))
	if replay.Body["request_id"] != ok.Body["request_id"] || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s", replay.Raw)
	}
	if n := countRows(t, db, `SELECT count(*) FROM audit_decisions`); n != 2 {
		t.Fatalf("%d audit rows, want 2", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE request_id = $1 AND decision = 'approve'
		AND card_last4 = '1111' AND card_brand = 'visa' AND length(card_hash) = 32`, ok.Body["request_id"]); n != 1 {
		t.Fatal("approved row not stored as expected")
	}
	if code, body := r.get(t, r.base+"/readyz"); code != 200 || !strings.Contains(body, `"postgres":"ok"`) || !strings.Contains(body, `"redis":"ok"`) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	// Metrics the dashboards, alerts and HPA rely on are exported.
	_, metrics := r.get(t, r.metrics+"/metrics")
	for _, name := range []string{
		validation.MetricRequests + `{code="200",decision="approve"} 2`, validation.MetricDuration, validation.MetricRateLimited,
		pgstore.MetricAuditBatchSize, pgstore.MetricAuditWrite, "pgxpool_acquired_conns", "txv_redis_pool_hit_total",
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("metric %q not exported", name)
		}
	}
}

func TestMerchantLimitsFromPostgres(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds, "MERCHANT_LIMITS_REFRESH": "200ms"})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO merchant_limits VALUES ('m_1', 'EUR', 1000)`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "limit applied after refresh", func() bool {
		a := r.post(t, fmt.Sprintf("lim-%d", time.Now().UnixNano()), txn("5555555555554444", 1001))
		return a.Body["decision"] == "review"
	})
}

// TestNoCardNumberAnywhere sends real card numbers and then searches every log line,
// every column of every table and every Redis key and value for them.
func TestNoCardNumberAnywhere(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds})
	pans := []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4000056655665556"}
	for i, p := range pans {
		cvv := "739"
		if len(p) == 15 {
			cvv = "7391"
		}
		body := strings.Replace(txn(p, 100+i), `"cvv":"123"`, `"cvv":"`+cvv+`"`, 1)
		if a := r.post(t, fmt.Sprintf("pan-%d", i), body); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Raw)
		}
		r.post(t, fmt.Sprintf("pan-%d", i), body) // replays travel through Redis too
	}
	var haystacks []string
	haystacks = append(haystacks, r.logs.String())
	if !strings.Contains(haystacks[0], `"msg":"decision"`) {
		t.Fatal("no decision logged: the search below would prove nothing")
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 3 {
		t.Fatalf("tables %v %v", tables, err)
	}
	for _, tbl := range tables {
		// encode(..., 'escape') also exposes digits hidden inside bytea columns.
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT row_to_json(x)::text FROM %s x`, pgx.Identifier{tbl}.Sanitize()))
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		haystacks = append(haystacks, vals...)
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(rds, "redis://")})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys %v %v", keys, err)
	}
	for _, k := range keys {
		haystacks = append(haystacks, k)
		if v, err := rdb.Get(ctx, k).Result(); err == nil {
			haystacks = append(haystacks, v)
		}
		if h, err := rdb.HGetAll(ctx, k).Result(); err == nil {
			for f, v := range h {
				haystacks = append(haystacks, f, v)
			}
		}
	}
	for _, h := range haystacks {
		for _, p := range pans {
			if strings.Contains(h, p) || strings.Contains(h, p[:8]+p[len(p)-4:]) {
				t.Fatalf("card number %s… found in: %.300s", p[:4], h)
			}
		}
		// Quoted, so hex digits of a hash do not match by chance.
		if strings.Contains(h, `"739"`) || strings.Contains(h, `"7391"`) || strings.Contains(h, `cvv`) {
			t.Fatalf("CVV found in: %.300s", h)
		}
	}
}

// TestIdempotencyRace fires many concurrent requests with one key: exactly one is
// decided, every other gets that decision replayed or a 409, and one audit row exists.
func TestIdempotencyRace(t *testing.T) {
	db, rds := freshDB(t)
	r1 := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds})
	r2 := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds}) // a second replica
	body := txn("4111111111111111", 4200)
	const n = 64
	answers := make([]answer, n)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			r := r1
			if i%2 == 1 {
				r = r2
			}
			answers[i] = r.post(t, "race-key", body)
		}()
	}
	close(startGate)
	wg.Wait()
	fresh, replayed, conflicts := 0, 0, 0
	ids := map[any]bool{}
	for _, a := range answers {
		switch {
		case a.Status == 200 && a.Header.Get("Idempotent-Replayed") == "":
			fresh++
			ids[a.Body["request_id"]] = true
		case a.Status == 200:
			replayed++
			ids[a.Body["request_id"]] = true
		case a.Status == 409 && a.errCode() == "idempotency_key_in_use":
			conflicts++
		default:
			t.Fatalf("unexpected answer %d %s", a.Status, a.Raw)
		}
	}
	if fresh != 1 || len(ids) != 1 {
		t.Fatalf("fresh=%d replayed=%d conflicts=%d distinct ids=%d; want exactly one decision", fresh, replayed, conflicts, len(ids))
	}
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE idempotency_key = 'race-key'`); c != 1 {
		t.Fatalf("%d audit rows for the key", c)
	}
	t.Logf("%d requests: 1 decided, %d replayed, %d told to retry (409)", n, replayed, conflicts)
}

// TestRateLimitSharedAcrossReplicas: two replicas on one Redis share one budget.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	db, rds := freshDB(t)
	env := map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds, "MAX_TRANSACTIONS_PER_SECOND": "5"}
	r1, r2 := start(t, env), start(t, env)
	begin := time.Now()
	allowed, limited := 0, 0
	for i := 0; i < 40; i++ {
		r := r1
		if i%2 == 1 {
			r = r2
		}
		a := r.post(t, fmt.Sprintf("rl-%d", i), txn("4111111111111111", 100+i))
		switch a.Status {
		case 200:
			allowed++
		case 429:
			limited++
			if a.Header.Get("Retry-After") == "" || a.errCode() != "rate_limited" {
				t.Fatalf("429 without Retry-After or code: %v %s", a.Header, a.Raw)
			}
		default:
			t.Fatalf("%d %s", a.Status, a.Raw)
		}
	}
	elapsed := time.Since(begin).Seconds()
	// GCRA: a burst of 5, then 5 per second. One budget for both replicas means at most
	// that many in total; two separate budgets would admit about twice as many.
	budget := 5 + int(5*elapsed) + 1
	if allowed > budget || limited == 0 {
		t.Fatalf("allowed %d, limited %d in %.2fs; shared budget allows at most %d", allowed, limited, elapsed, budget)
	}
	t.Logf("allowed %d, limited %d in %.2fs (budget %d)", allowed, limited, elapsed, budget)
}

func TestElastiCacheStyleTLSCluster(t *testing.T) {
	db, _ := freshDB(t)
	cluster := devtest.Redis(t, devserver.RedisOptions{TLS: true, ClusterNodes: 3})
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": cluster.Endpoint,
		"REDIS_CLUSTER_MODE": "true", "REDIS_CA_FILE": cluster.CAFile, "MAX_TRANSACTIONS_PER_SECOND": "1000", "VELOCITY_CARD_PER_MINUTE": "1000"})
	// Many cards and keys spread the keys over every shard.
	for i := 0; i < 30; i++ {
		pan := []string{"4111111111111111", "5555555555554444", "3530111333300000", "6011111111111117"}[i%4]
		a := r.post(t, fmt.Sprintf("cl-%d", i), txn(pan, 100+i))
		if a.Status != 200 || a.Body["decision"] != "approve" {
			t.Fatalf("%d %s", a.Status, a.Raw)
		}
		if b := r.post(t, fmt.Sprintf("cl-%d", i), txn(pan, 100+i)); b.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay through the cluster: %s", b.Raw)
		}
	}
	if code, body := r.get(t, r.base+"/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
}

// TestGracefulShutdown: requests in flight when the stop signal arrives are answered
// and audited; readiness turns false during the drain delay.
func TestGracefulShutdown(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds, "SHUTDOWN_DRAIN_DELAY": "1500ms"})
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := r.post(t, fmt.Sprintf("gs-%d", i), txn("4111111111111111", 100+i))
			mu.Lock()
			if a.Status == 200 {
				ok++
			}
			mu.Unlock()
		}()
	}
	time.Sleep(20 * time.Millisecond)
	r.stop()
	eventually(t, 5*time.Second, "readyz false while draining", func() bool {
		code, _ := r.get(t, r.base+"/readyz")
		return code == 503
	})
	wg.Wait()
	r.shutdown(t)
	if ok != n {
		t.Fatalf("%d of %d in-flight requests answered 200", ok, n)
	}
	if c := countRows(t, db, `SELECT count(*) FROM audit_decisions`); c != n {
		t.Fatalf("%d audit rows for %d answers", c, n)
	}
	if code, _ := r.get(t, r.base+"/livez"); code != 0 {
		t.Fatalf("still serving after shutdown: %d", code)
	}
}

// TestBehindPgBouncer runs the service through a real PgBouncer in transaction pooling
// mode, with the statement modes that need no named prepared statements; migrations go
// to the direct URL because their advisory lock is session state.
func TestBehindPgBouncer(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			direct, rds := freshDB(t)
			dbName := direct[strings.LastIndex(direct, "/")+1 : strings.Index(direct, "?")]
			bouncer, err := devserver.StartPgBouncer(context.Background(), sharedPG, dbName)
			if err != nil {
				t.Fatal(err)
			}
			defer bouncer.Close()
			db := bouncer.URL
			r := start(t, map[string]string{"DATABASE_URL": db, "MIGRATION_DATABASE_URL": direct, "REDIS_ENDPOINT": rds,
				"DB_STATEMENT_MODE": mode, "DB_POOL_MAX_CONNS": "32"})
			// Concurrency makes transactions of different clients share server connections.
			var wg sync.WaitGroup
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if a := r.post(t, fmt.Sprintf("pb-%d", i), txn("4111111111111111", 100+i)); a.Status != 200 {
						t.Errorf("%d %s", a.Status, a.Raw)
					}
				}()
			}
			wg.Wait()
			if a := r.post(t, "pb-0", txn("4111111111111111", 100)); a.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %s", a.Raw)
			}
			if c := countRows(t, direct, `SELECT count(*) FROM audit_decisions`); c != 40 {
				t.Fatalf("%d rows, want 40", c)
			}
		})
	}
}
