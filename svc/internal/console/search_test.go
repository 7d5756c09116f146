package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth/albauthtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/console"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
)

// searchConsole is a console on a database of generated decisions, reading it as a
// member of txv_audit_reader (the grants of the migrations, not a test role's).
type searchConsole struct {
	url    string
	viewer string
	admin  *pgxpool.Pool
	log    *lockedBuffer
	start  time.Time
}

func startSearchConsole(t *testing.T, rows int64) searchConsole {
	t.Helper()
	return startSearchConsoleOn(t, startPostgres(t), rows)
}

func startSearchConsoleOn(t *testing.T, pg *devserver.Postgres, rows int64) searchConsole {
	t.Helper()
	admin, reader := auditDB(t, pg)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	loadDecisions(t, admin, rows, start, time.Second)
	ops := newOperators(t)
	buf := &lockedBuffer{}
	s := &console.Server{Audit: reader, Log: slog.New(slog.NewJSONHandler(buf, nil)), Auth: ops.auth,
		Now: func() time.Time { return start.Add(time.Duration(rows+1) * time.Second) }, Origin: "https://console.example.com"}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return searchConsole{url: srv.URL, viewer: ops.header(t, "op-viewer", 5*time.Minute, albauthtest.ViewerGroup),
		admin: admin, log: buf, start: start}
}

func (sc searchConsole) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp := do(t, "GET", sc.url+path, sc.viewer, "")
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, raw)
		}
	}
	return resp.StatusCode
}

// ids runs q on the admin pool: the expected answer, computed without the console.
func (sc searchConsole) ids(t *testing.T, q string, args ...any) []string {
	t.Helper()
	rows, err := sc.admin.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// pages follows next_cursor from the first page to the last and returns every id.
func (sc searchConsole) pages(t *testing.T, q url.Values) (ids []string, pages int) {
	t.Helper()
	for {
		var p console.Page
		if code := sc.get(t, "/console/api/decisions?"+q.Encode(), &p); code != 200 {
			t.Fatalf("search %s: %d", q.Encode(), code)
		}
		pages++
		for _, d := range p.Decisions {
			ids = append(ids, d.RequestID)
		}
		if p.Next == "" {
			return ids, pages
		}
		q.Set("cursor", p.Next)
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
}

func TestSearchAndPaging(t *testing.T) {
	sc := startSearchConsole(t, 3000)
	// Sixty decisions to each decided_at: a page boundary inside a run of equal times
	// must neither skip nor repeat one (the keyset includes request_id).
	if _, err := sc.admin.Exec(context.Background(), `UPDATE audit_decisions SET decided_at = date_trunc('minute', decided_at)`); err != nil {
		t.Fatal(err)
	}
	from := sc.start.Add(1000 * time.Second).Format(time.RFC3339)
	to := sc.start.Add(2000 * time.Second).Format(time.RFC3339)
	// Rows i in [1000, 2000): decided_at = start + i s.
	order := ` ORDER BY decided_at DESC, request_id DESC`
	rng := `decided_at >= $1 AND decided_at < $2`
	f, tt := sc.start.Add(1000*time.Second), sc.start.Add(2000*time.Second)

	// Keyset paging visits every row of the range once, in order.
	got, n := sc.pages(t, url.Values{"from": {from}, "to": {to}, "limit": {"37"}})
	want := sc.ids(t, `SELECT request_id::text FROM audit_decisions WHERE `+rng+order, f, tt)
	if len(want) < 900 || !slices.Equal(got, want) || n != (len(want)+36)/37 {
		t.Fatalf("paging: %d ids in %d pages, want the %d of the range in order", len(got), n, len(want))
	}

	for _, c := range []struct {
		name  string
		q     url.Values
		where string
		args  []any
	}{
		{"merchant", url.Values{"merchant": {"m_7"}}, `merchant_id = 'm_7'`, nil},
		{"last4", url.Values{"last4": {"8500"}}, `card_last4 = '8500'`, nil},
		{"decision", url.Values{"decision": {"decline"}}, `decision = 'decline'`, nil},
		{"reason", url.Values{"reason": {"merchant_limit_exceeded"}}, `'merchant_limit_exceeded' = ANY (reasons)`, nil},
		{"merchant and decision", url.Values{"merchant": {"m_20"}, "decision": {"decline"}}, `merchant_id = 'm_20' AND decision = 'decline'`, nil},
		// The console's role cannot read the key column; it finds the decision all the same.
		{"idempotency key", url.Values{"idempotency_key": {"k1500"}}, `idempotency_key = 'k1500'`, nil},
		{"merchant and idempotency key", url.Values{"merchant": {"m_500"}, "idempotency_key": {"k1500"}}, `merchant_id = 'm_500' AND idempotency_key = 'k1500'`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.q.Set("from", from)
			c.q.Set("to", to)
			c.q.Set("limit", "3")
			got, _ := sc.pages(t, c.q)
			want := sc.ids(t, `SELECT request_id::text FROM audit_decisions WHERE `+rng+` AND `+c.where+order, f, tt)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("got %d ids, want %d: %v vs %v", len(got), len(want), got, want)
			}
		})
	}

	// By request id: exactly that decision, found outside the default range too.
	id := sc.ids(t, `SELECT request_id::text FROM audit_decisions WHERE txn_time = $1`, sc.start.Add(1500*time.Second))[0]
	var p console.Page
	if code := sc.get(t, "/console/api/decisions?"+url.Values{"request_id": {strings.ToUpper(id)}, "from": {from}, "to": {to}}.Encode(), &p); code != 200 ||
		len(p.Decisions) != 1 || p.Decisions[0].RequestID != id {
		t.Fatalf("by request id: %d %+v", code, p)
	}

	// The detail view: every column the console may read.
	var d console.Detail
	if code := sc.get(t, "/console/api/decisions/"+id, &d); code != 200 || d.RequestID != id || d.MerchantID != "m_500" ||
		d.Country != "DE" || d.Currency != "EUR" || d.CardBrand != "visa" || len(d.CardLast4) != 4 ||
		!d.DecidedAt.Equal(sc.start.Add(1500*time.Second)) || !d.TxnTime.Equal(d.DecidedAt) || d.Decision != "decline" ||
		!slices.Equal(d.Reasons, []string{"card_expired"}) {
		t.Fatalf("detail: %d %+v", code, d)
	}
	if code := sc.get(t, "/console/api/decisions/00000000-0000-7000-8000-ffffffffffff", nil); code != 404 {
		t.Fatalf("detail of an unknown id: %d, want 404", code)
	}

	// Bad parameters say which field is wrong.
	for field, q := range map[string]string{
		"merchant": "merchant=a%20b", "last4": "last4=12345", "request_id": "request_id=nope", "decision": "decision=maybe",
		"reason": "reason=DROP%20TABLE", "from": "from=yesterday", "to": "to=2026-13-01T00:00:00Z", "limit": "limit=10000",
		"cursor": "cursor=Zm9vfGJhcg", "idempotency_key": "idempotency_key=a%20b",
	} {
		var e struct {
			Error struct{ Code, Field string }
		}
		if code := sc.get(t, "/console/api/decisions?"+q, &e); code != 400 || e.Error.Field != field || e.Error.Code != "invalid_search" {
			t.Errorf("%s: %d %+v, want 400 naming %s", q, code, e, field)
		}
	}
	if code := sc.get(t, "/console/api/decisions/not-a-uuid", nil); code != 400 {
		t.Errorf("detail of a malformed id: %d, want 400", code)
	}

	// Searches and detail views are operator actions, logged with what was searched.
	logs := sc.log.String()
	if !strings.Contains(logs, `"action":"search"`) || !strings.Contains(logs, `"merchant":["m_7"]`) ||
		!strings.Contains(logs, `"action":"decision_detail"`) {
		t.Fatalf("audit lines lack the searches:\n%s", logs)
	}
}

// The search runs as txv_audit_reader and reads no column that role may not.
func TestSearchNeedsNoMoreThanTheConsoleRole(t *testing.T) {
	sc := startSearchConsole(t, 10)
	var p console.Page
	if code := sc.get(t, "/console/api/decisions", &p); code != 200 || len(p.Decisions) != 10 {
		t.Fatalf("%d, %d rows", code, len(p.Decisions))
	}
}
