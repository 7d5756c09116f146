package console_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/transaction-validator/transaction-validator/svc/internal/console"
)

// benchStep spaces generated decisions as 10 million over 30 days would be (one every
// 0.26 s, ~3.9 a second): range queries see the same density at any table size.
const benchStep = 259200 * time.Microsecond

// searches are the console's queries the benchmark and the plan test run, each with the
// index its plan must use, on n generated rows (loadDecisions) ending at now. The request
// id and idempotency key searched for are row n-10's, inside the day searched, so the
// lookups find their row at every table size.
func searches(now time.Time, n int64) []struct {
	name  string
	s     console.Search
	index string
} {
	day := console.Search{From: now.Add(-24 * time.Hour), To: now, Limit: console.DefaultLimit}
	with := func(f func(*console.Search)) console.Search { s := day; f(&s); return s }
	return []struct {
		name  string
		s     console.Search
		index string
	}{
		{"latest", day, "audit_decisions_time"},
		{"merchant", with(func(s *console.Search) { s.MerchantID = "m_7" }), "audit_decisions_merchant_time"},
		{"merchant-7d-decline", with(func(s *console.Search) {
			s.MerchantID, s.Decision, s.From = "m_7", "decline", now.Add(-7*24*time.Hour)
		}), "audit_decisions_merchant_time"},
		{"last4", with(func(s *console.Search) { s.Last4 = "8500" }), "audit_decisions_last4_time"},
		{"decision", with(func(s *console.Search) { s.Decision = "decline" }), "audit_decisions_time"},
		{"reason", with(func(s *console.Search) { s.Reason = "merchant_limit_exceeded" }), "audit_decisions_time"},
		{"request-id", with(func(s *console.Search) { s.RequestID = fmt.Sprintf("%08x-0000-7000-8000-%012x", n-10, n-10) }), "audit_decisions_pkey"},
		// The key's lookup runs inside console_decisions_by_idempotency_key (its own plan:
		// TestSearchPlansUseTheIndexes); the search joins its answer to the primary key.
		{"idempotency-key", with(func(s *console.Search) { s.IdempotencyKey = fmt.Sprintf("k%d", n-10) }), "audit_decisions_pkey"},
	}
}

// explain returns the plan of the search as PostgreSQL chose it for these parameters.
func explain(t testing.TB, db *pgxpool.Pool, s console.Search, analyze bool) string {
	t.Helper()
	q, args := s.SQL()
	opts := "(COSTS OFF)"
	if analyze {
		opts = "(ANALYZE, BUFFERS, COSTS OFF)"
	}
	rows, err := db.Query(context.Background(), "EXPLAIN "+opts+" "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// TestSearchPlansUseTheIndexes: on a table large enough for the planner to care (100,000
// rows), every search is an index scan that stops after one page, never a sequential
// scan or a sort of the whole range.
func TestSearchPlansUseTheIndexes(t *testing.T) {
	pg := startPostgres(t)
	admin, reader := auditDB(t, pg)
	const n = 100_000
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	loadDecisions(t, admin, n, start, benchStep)
	now := start.Add(n * benchStep)
	for _, c := range searches(now, n) {
		plan := explain(t, reader, c.s, false)
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, c.index) {
			t.Errorf("%s: plan does not use %s:\n%s", c.name, c.index, plan)
		}
		// Without a filter the index order is the page order: no sort at all.
		if c.name == "latest" && strings.Contains(plan, "Sort") {
			t.Errorf("%s: the plan sorts; the index should give the order:\n%s", c.name, plan)
		}
	}
	// The plan above stops at the function; this is the query inside it (migration 00005).
	plan := keyLookupPlan(t, admin, fmt.Sprintf("k%d", n-10), false)
	if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "audit_decisions_idempotency_key") {
		t.Errorf("idempotency key lookup: plan does not use audit_decisions_idempotency_key:\n%s", plan)
	}
}

// keyLookupPlan returns the plan of the query inside console_decisions_by_idempotency_key
// (whose own plan, seen from the search, stops at the function call) for key. db must be
// allowed to read pg_proc's source and the table: the admin pool.
func keyLookupPlan(t testing.TB, db *pgxpool.Pool, key string, analyze bool) string {
	t.Helper()
	var body string
	if err := db.QueryRow(context.Background(), `SELECT prosrc FROM pg_proc WHERE proname = 'console_decisions_by_idempotency_key'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	opts := "(COSTS OFF)"
	if analyze {
		opts = "(ANALYZE, BUFFERS, COSTS OFF)"
	}
	rows, err := db.Query(context.Background(), "EXPLAIN "+opts+" "+strings.ReplaceAll(body, "= key", "= $1::text"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

// BenchmarkSearch measures each console search, and a page deep into a result, on a
// generated audit table of TXV_BENCH_ROWS rows (default 1,000,000; the load is bounded
// by that number), reporting p50/p95 and logging each plan with EXPLAIN ANALYZE.
// Results and plans: docs/performance.md.
//
//	TXV_BENCH_ROWS=1000000 go test -run '^$' -bench BenchmarkSearch -benchtime 200x ./svc/internal/console/
func BenchmarkSearch(b *testing.B) {
	n := int64(1_000_000)
	if v := os.Getenv("TXV_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 1 || n > 50_000_000 {
			b.Fatalf("TXV_BENCH_ROWS=%q: want 1 to 50000000", v)
		}
	}
	pg := startPostgres(b)
	admin, reader := auditDB(b, pg)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	loadDecisions(b, admin, n, start, benchStep)
	var size string
	_ = admin.QueryRow(context.Background(), `SELECT pg_size_pretty(pg_total_relation_size('audit_decisions'))`).Scan(&size)
	b.Logf("loaded %d rows in %s (table and indexes: %s)", n, time.Since(t0).Round(time.Second), size)
	now := start.Add(time.Duration(n) * benchStep)
	ctx := context.Background()

	run := func(b *testing.B, name string, f func() error, plan string) {
		b.Run(name, func(b *testing.B) {
			if plan != "" {
				b.Logf("plan:\n%s", plan)
			}
			d := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				if err := f(); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t))
			}
			slices.Sort(d)
			b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(d[len(d)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
	for _, c := range searches(now, n) {
		s := c.s
		// A lookup by id or key that found nothing would time an empty answer (it did, before
		// they were row n-10's). ("merchant-7d-decline" matches nothing on purpose.)
		if s.RequestID != "" || s.IdempotencyKey != "" {
			if p, err := console.Find(ctx, reader, s); err != nil || len(p.Decisions) != 1 {
				b.Fatalf("%s: %d rows (error %v), want its one row", c.name, len(p.Decisions), err)
			}
		}
		if s.IdempotencyKey != "" {
			b.Logf("%s: the lookup inside console_decisions_by_idempotency_key:\n%s", c.name, keyLookupPlan(b, admin, s.IdempotencyKey, true))
		}
		run(b, c.name, func() error { _, err := console.Find(ctx, reader, s); return err }, explain(b, reader, s, true))
	}
	// Page 20 of the unfiltered day: keyset, so it costs what page 1 does.
	deep := searches(now, n)[0].s
	for range 19 {
		p, err := console.Find(ctx, reader, deep)
		if err != nil || p.Next == "" {
			b.Fatalf("paging: %v", err)
		}
		c, _ := console.ParseSearch(map[string][]string{"cursor": {p.Next}}, now)
		deep.After = c.After
	}
	run(b, "latest-page-20", func() error { _, err := console.Find(ctx, reader, deep); return err }, explain(b, reader, deep, true))
	// The recent view's poll (counts of the last 15 minutes, and the latest 20 rows).
	since := now.Add(-console.Window)
	run(b, "recent-counts", func() error {
		rows, err := reader.Query(ctx, `SELECT decision, test, count(*) FROM audit_decisions WHERE decided_at > $1 GROUP BY decision, test`, since)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}, "")
}
