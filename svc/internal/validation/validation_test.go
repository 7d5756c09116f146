package validation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/inmem"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type fixture struct {
	handler   http.Handler
	admission *inmem.Admission
	audit     *inmem.AuditLog
	logs      *devtest.LogBuffer
	metrics   *prometheus.Registry
}

func newFixture(t testing.TB, perSecond int, limits inmem.Limits, tune ...func(*validation.Rules)) *fixture {
	t.Helper()
	h, _ := card.NewHasher(bytes.Repeat([]byte{7}, 32))
	logs := &devtest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	audit := inmem.NewAuditLog(24 * time.Hour)
	rules := validation.DefaultRules()
	for _, fn := range tune {
		fn(&rules)
	}
	admission := inmem.NewAdmission(10*time.Second, perSecond)
	svc := validation.NewService(validation.Deps{
		Admission: admission,
		Limits:    limits,
		Audit:     audit,
		Hasher:    h,
		Logger:    log,
		Now:       func() time.Time { return now },
	}, rules)
	reg := prometheus.NewRegistry()
	m := validation.NewMetrics(reg)
	ep := validation.Timeout(time.Second)(validation.MakeValidateEndpoint(svc))
	return &fixture{handler: validation.NewHTTPHandler(ep, m, log), admission: admission, audit: audit, logs: logs, metrics: reg}
}

type answer struct {
	Status  int
	Header  http.Header
	Body    map[string]any
	RawBody string
}

func (f *fixture) post(t testing.TB, key string, body string, hdr ...string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/validate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	checkContract(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
	a := answer{Status: rec.Code, Header: rec.Header(), RawBody: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &a.Body)
	return a
}

// txn builds a valid transaction body, with overrides applied to the top level and to
// "card.*" keys.
func txn(overrides map[string]any) string {
	c := map[string]any{"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2030, "cvv": "123"}
	t := map[string]any{"merchant_id": "m_42", "amount": 1999, "currency": "EUR", "country": "DE",
		"timestamp": now.Add(-time.Minute).Format(time.RFC3339), "card": c}
	for k, v := range overrides {
		if strings.HasPrefix(k, "card.") {
			if v == nil {
				delete(c, k[5:])
			} else {
				c[k[5:]] = v
			}
			continue
		}
		if v == nil {
			delete(t, k)
		} else {
			t[k] = v
		}
	}
	b, _ := json.Marshal(t)
	return string(b)
}

func reasonsOf(a answer) []string {
	var out []string
	rs, _ := a.Body["reasons"].([]any)
	for _, r := range rs {
		out = append(out, r.(string))
	}
	return out
}

func TestDecisions(t *testing.T) {
	// One card is used for every case: velocity is tested on its own below.
	f := newFixture(t, 1000, inmem.Limits{"m_capped": {"EUR": 50000}}, func(r *validation.Rules) { r.VelocityCardPerMinute = 1000 })
	cases := []struct {
		name     string
		over     map[string]any
		decision string
		reason   string
	}{
		{"valid visa", nil, "approve", ""},
		{"valid amex with 4-digit cvv", map[string]any{"card.number": "378282246310005", "card.cvv": "1234"}, "approve", ""},
		{"token without expiry", map[string]any{"card.number": nil, "card.cvv": nil, "card.expiry_month": nil, "card.expiry_year": nil, "card.token": "tok_abcdefgh1234"}, "approve", ""},
		{"bad luhn", map[string]any{"card.number": "4111111111111112"}, "decline", "card_number_invalid"},
		{"unknown brand", map[string]any{"card.number": "9999999999999995"}, "decline", "card_brand_unsupported"},
		{"amex with 3-digit cvv", map[string]any{"card.number": "378282246310005", "card.cvv": "123"}, "decline", "cvv_invalid"},
		{"expired last month", map[string]any{"card.expiry_month": 10, "card.expiry_year": 2026}, "decline", "card_expired"},
		{"expires this month", map[string]any{"card.expiry_month": 11, "card.expiry_year": 2026}, "approve", ""},
		{"expiry too far", map[string]any{"card.expiry_year": 2060}, "decline", "card_expiry_invalid"},
		{"unknown currency", map[string]any{"currency": "XXX"}, "decline", "currency_unsupported"},
		{"withdrawn currency", map[string]any{"currency": "HRK"}, "decline", "currency_unsupported"},
		{"above currency max", map[string]any{"amount": 100_000_01}, "decline", "amount_above_maximum"},
		{"JPY has no minor units", map[string]any{"currency": "JPY", "amount": 15_000_000}, "approve", ""},
		{"JPY above max", map[string]any{"currency": "JPY", "amount": 15_000_001}, "decline", "amount_above_maximum"},
		{"merchant limit", map[string]any{"merchant_id": "m_capped", "amount": 50001}, "review", "merchant_limit_exceeded"},
		{"merchant limit other currency", map[string]any{"merchant_id": "m_capped", "amount": 50001, "currency": "USD"}, "approve", ""},
		{"unassigned country", map[string]any{"country": "ZZ"}, "decline", "country_unsupported"},
		{"future timestamp", map[string]any{"timestamp": now.Add(10 * time.Minute).Format(time.RFC3339)}, "decline", "timestamp_in_future"},
		{"stale timestamp", map[string]any{"timestamp": now.Add(-25 * time.Hour).Format(time.RFC3339)}, "decline", "timestamp_stale"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.post(t, fmt.Sprintf("k-%d", i), txn(c.over))
			if a.Status != 200 || a.Body["decision"] != c.decision {
				t.Fatalf("got %d %s, want %s", a.Status, a.RawBody, c.decision)
			}
			rs := reasonsOf(a)
			if c.reason == "" && len(rs) != 0 || c.reason != "" && (len(rs) == 0 || rs[0] != c.reason) {
				t.Fatalf("reasons %v, want %q", rs, c.reason)
			}
		})
	}
	if got := len(f.audit.Records()); got != len(cases) {
		t.Fatalf("%d audit records for %d decisions", got, len(cases))
	}
}

func TestVelocityPerCard(t *testing.T) {
	f := newFixture(t, 1000, nil)
	limit := int(validation.DefaultRules().VelocityCardPerMinute)
	for i := 1; i <= limit+1; i++ {
		a := f.post(t, fmt.Sprintf("v-%d", i), txn(map[string]any{"amount": 100 + i}))
		want := "approve"
		if i > limit {
			want = "decline"
		}
		if a.Body["decision"] != want {
			t.Fatalf("attempt %d: %s, want %s", i, a.RawBody, want)
		}
	}
	// Another card of the same merchant is not affected.
	if a := f.post(t, "v-other", txn(map[string]any{"card.number": "5555555555554444"})); a.Body["decision"] != "approve" {
		t.Fatalf("other card: %s", a.RawBody)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t, 1000, nil)
	body := txn(nil)
	first := f.post(t, "idem-1", body)
	// Same request with other key order and whitespace is the same request.
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	reordered, _ := json.MarshalIndent(m, "", "   ")
	again := f.post(t, "idem-1", string(reordered))
	if again.Status != 200 || again.Body["request_id"] != first.Body["request_id"] || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (first %s)", again.Status, again.RawBody, first.RawBody)
	}
	changed := f.post(t, "idem-1", txn(map[string]any{"amount": 2000}))
	if changed.Status != 422 || changed.Body["error"].(map[string]any)["code"] != "idempotency_key_reused" {
		t.Fatalf("reuse with another body: %d %s", changed.Status, changed.RawBody)
	}
	// Keys are per merchant.
	if other := f.post(t, "idem-1", txn(map[string]any{"merchant_id": "m_other"})); other.Status != 200 || other.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("other merchant: %d %s", other.Status, other.RawBody)
	}
	if n := len(f.audit.Records()); n != 2 {
		t.Fatalf("%d audit records, want 2", n)
	}
}

func TestKeyHeldByAnotherRequest(t *testing.T) {
	f := newFixture(t, 1000, nil, func(r *validation.Rules) { r.VelocityCardPerMinute = 2 })
	// A request with this key is being decided elsewhere: its claim is held, and the
	// audit log has no decision for the key yet.
	held := payment.Attempt{MerchantID: "m_42", IdempotencyKey: "busy", RequestID: "elsewhere", CardKey: "c", At: now}
	if a, _ := f.admission.Admit(context.Background(), held); !a.Claimed {
		t.Fatal("could not hold the key")
	}
	for i := 0; i < 3; i++ {
		a := f.post(t, "busy", txn(nil))
		if a.Status != 409 || a.Header.Get("Retry-After") == "" || a.Body["error"].(map[string]any)["code"] != "idempotency_key_in_use" {
			t.Fatalf("want 409, got %d %s", a.Status, a.RawBody)
		}
	}
	// Neither the refused requests nor replays count toward the card's velocity (limit 2).
	if a := f.post(t, "fresh-1", txn(nil)); a.Body["decision"] != "approve" {
		t.Fatalf("first: %s", a.RawBody)
	}
	for i := 0; i < 3; i++ {
		if a := f.post(t, "fresh-1", txn(nil)); a.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %s", a.RawBody)
		}
	}
	if a := f.post(t, "fresh-2", txn(nil)); a.Body["decision"] != "approve" {
		t.Fatalf("second card use was refused; duplicates were counted: %s", a.RawBody)
	}
	if a := f.post(t, "fresh-3", txn(nil)); a.Body["decision"] != "decline" {
		t.Fatalf("third card use within the minute: %s", a.RawBody)
	}
	// Once the holder lets go (here: releases; a crashed holder's claim lapses), the key
	// is free again.
	_ = f.admission.Release(context.Background(), held)
	if a := f.post(t, "busy", txn(nil)); a.Status != 200 || a.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after release: %d %s", a.Status, a.RawBody)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, 2, nil)
	var limited answer
	for i := 0; i < 5; i++ {
		a := f.post(t, fmt.Sprintf("rl-%d", i), txn(map[string]any{"amount": 100 + i}))
		if a.Status == 429 {
			limited = a
			break
		}
	}
	if limited.Status != 429 || limited.Header.Get("Retry-After") == "" || limited.Body["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("want 429 with Retry-After, got %d %v %s", limited.Status, limited.Header, limited.RawBody)
	}
	// A malformed request does not spend the budget and still gets its 400.
	if a := f.post(t, "rl-bad", "{"); a.Status != 400 {
		t.Fatalf("malformed under rate limit: %d", a.Status)
	}
	if n := counterValue(t, f.metrics, validation.MetricRateLimited); n != 1 {
		t.Fatalf("%s = %v after one 429", validation.MetricRateLimited, n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestBadInputNeverAnswers500(t *testing.T) {
	f := newFixture(t, 100000, nil)
	huge := `{"merchant_id":"` + strings.Repeat("a", validation.MaxBodyBytes) + `"}`
	cases := []struct {
		name, key, body string
		status          int
		field           string
		hdr             []string
	}{
		{"empty body", "k", "", 400, "", nil},
		{"malformed", "k", `{"merchant_id":`, 400, "", nil},
		{"not an object", "k", `[1,2]`, 400, "", nil},
		{"null", "k", `null`, 400, "merchant_id", nil},
		{"two objects", "k", txn(nil) + txn(nil), 400, "", nil},
		{"unknown field", "k", txn(map[string]any{"admin": true}), 400, "", nil},
		{"amount as string", "k", txn(map[string]any{"amount": "1999"}), 400, "amount", nil},
		{"amount fractional", "k", txn(map[string]any{"amount": 19.99}), 400, "amount", nil},
		{"amount overflow", "k", strings.Replace(txn(nil), `"amount":1999`, `"amount":99999999999999999999`, 1), 400, "amount", nil},
		{"amount zero", "k", txn(map[string]any{"amount": 0}), 400, "amount", nil},
		{"amount negative", "k", txn(map[string]any{"amount": -5}), 400, "amount", nil},
		{"missing currency", "k", txn(map[string]any{"currency": nil}), 400, "currency", nil},
		{"lower-case currency", "k", txn(map[string]any{"currency": "eur"}), 400, "currency", nil},
		{"currency injection", "k", txn(map[string]any{"currency": "EU'; DROP TABLE x;--"}), 400, "currency", nil},
		{"merchant with newline", "k", txn(map[string]any{"merchant_id": "m1\n{\"level\":\"ERROR\"}"}), 400, "merchant_id", nil},
		{"merchant unicode", "k", txn(map[string]any{"merchant_id": "m\u202e1"}), 400, "merchant_id", nil},
		{"card missing", "k", txn(map[string]any{"card": nil}), 400, "card", nil},
		{"card as string", "k", txn(map[string]any{"card": "4111111111111111"}), 400, "card", nil},
		{"pan and token", "k", txn(map[string]any{"card.token": "tok_abcdefgh1234"}), 400, "card", nil},
		{"pan with letters", "k", txn(map[string]any{"card.number": "4111-1111-1111-111x"}), 400, "card.number", nil},
		{"pan as number", "k", txn(map[string]any{"card.number": 4111111111111111}), 400, "card.number", nil},
		{"expiry month 13", "k", txn(map[string]any{"card.expiry_month": 13}), 400, "card.expiry_month", nil},
		{"expiry missing", "k", txn(map[string]any{"card.expiry_year": nil}), 400, "card.expiry_month", nil},
		{"cvv letters", "k", txn(map[string]any{"card.cvv": "12a"}), 400, "card.cvv", nil},
		{"bad timestamp", "k", txn(map[string]any{"timestamp": "yesterday"}), 400, "timestamp", nil},
		{"country long", "k", txn(map[string]any{"country": "DEU"}), 400, "country", nil},
		{"no idempotency key", "", txn(nil), 400, "Idempotency-Key", nil},
		{"idempotency key with space", "a b", txn(nil), 400, "Idempotency-Key", nil},
		{"idempotency key too long", strings.Repeat("k", 256), txn(nil), 400, "Idempotency-Key", nil},
		{"oversized body", "k", huge, 413, "", nil},
		{"wrong content type", "k", txn(nil), 415, "", []string{"Content-Type", "text/plain"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.post(t, c.key, c.body, c.hdr...)
			if a.Status != c.status {
				t.Fatalf("status %d, want %d: %s", a.Status, c.status, a.RawBody)
			}
			e, _ := a.Body["error"].(map[string]any)
			if e == nil || e["message"] == "" || a.Body["request_id"] == "" {
				t.Fatalf("error body lacks code/message/request_id: %s", a.RawBody)
			}
			if c.field != "" && e["field"] != c.field {
				t.Fatalf("field %v, want %s: %s", e["field"], c.field, a.RawBody)
			}
			if strings.Contains(a.RawBody, "4111") || strings.Contains(a.RawBody, "DROP") {
				t.Fatalf("error echoes input: %s", a.RawBody)
			}
		})
	}
	req := httptest.NewRequest(http.MethodGet, "/api/validate", nil)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
	if len(f.audit.Records()) != 0 {
		t.Fatal("a rejected request reached the audit log")
	}
}

func TestNoCardDataInLogsOrAudit(t *testing.T) {
	f := newFixture(t, 1000, nil)
	pans := []string{"4111111111111111", "5555555555554444", "378282246310005", "4111111111111112"}
	for i, p := range pans {
		f.post(t, fmt.Sprintf("pan-%d", i), txn(map[string]any{"card.number": p, "card.cvv": map[bool]string{true: "7391", false: "739"}[len(p) == 15]}))
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"decision"`) {
		t.Fatal("no decision was logged: the check below would prove nothing")
	}
	recs, _ := json.Marshal(f.audit.Records())
	for _, p := range pans {
		for _, where := range []string{logs, string(recs)} {
			if strings.Contains(where, p) || strings.Contains(where, p[:12]) {
				t.Fatalf("card number found: %s", where)
			}
		}
	}
	// Quoted, so digits inside a UUID or a hash do not match by chance.
	for _, where := range []string{logs, string(recs)} {
		if strings.Contains(where, `"739"`) || strings.Contains(where, `"7391"`) || strings.Contains(strings.ToLower(where), "cvv") {
			t.Fatalf("CVV found: %s", where)
		}
	}
}

// failingAudit is an audit log whose database is down.
type failingAudit struct{}

func (failingAudit) Record(context.Context, payment.AuditRecord) (*payment.Stored, error) {
	return nil, fmt.Errorf("connection refused")
}

func (failingAudit) Lookup(context.Context, string, string, time.Time) (*payment.Stored, error) {
	return nil, fmt.Errorf("connection refused")
}

func TestStoreFailureLeavesNothingBehind(t *testing.T) {
	h, _ := card.NewHasher(bytes.Repeat([]byte{7}, 32))
	adm := inmem.NewAdmission(time.Minute, 1000)
	svc := validation.NewService(validation.Deps{Admission: adm, Limits: inmem.Limits{}, Audit: failingAudit{},
		Hasher: h, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}, validation.DefaultRules())
	m := validation.NewMetrics(prometheus.NewRegistry())
	handler := validation.NewHTTPHandler(validation.MakeValidateEndpoint(svc), m, slog.New(slog.DiscardHandler))
	f := &fixture{handler: handler}
	a := f.post(t, "down-1", txn(nil))
	if a.Status != 503 || a.Header.Get("Retry-After") == "" || a.Body["error"].(map[string]any)["code"] != "dependency_unavailable" {
		t.Fatalf("want 503, got %d %s", a.Status, a.RawBody)
	}
	// The key was released, so a retry is processed rather than refused as in progress,
	// and the velocity hit was taken back.
	a2, _ := adm.Admit(context.Background(), payment.Attempt{MerchantID: "m_42", IdempotencyKey: "down-1", RequestID: "retry", CardKey: "irrelevant", At: now})
	if !a2.Claimed {
		t.Fatal("claim left behind")
	}
	if a2.Counts.Merchant != 1 {
		t.Fatalf("merchant velocity %d after a failed request, want 1", a2.Counts.Merchant)
	}
}

// TestStoreFailureRefundsTheRateLimit: an admitted request whose decision could not be
// made durable gives back its unit of the rate limit too, so a 503 does not turn the
// client's retry into a 429.
func TestStoreFailureRefundsTheRateLimit(t *testing.T) {
	h, _ := card.NewHasher(bytes.Repeat([]byte{7}, 32))
	adm := inmem.NewAdmission(time.Minute, 1) // a budget of one request
	svc := validation.NewService(validation.Deps{Admission: adm, Limits: inmem.Limits{}, Audit: failingAudit{},
		Hasher: h, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}, validation.DefaultRules())
	handler := validation.NewHTTPHandler(validation.MakeValidateEndpoint(svc), validation.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	f := &fixture{handler: handler}
	if a := f.post(t, "down-1", txn(nil)); a.Status != 503 {
		t.Fatalf("want 503, got %d %s", a.Status, a.RawBody)
	}
	a, err := adm.Admit(context.Background(), payment.Attempt{MerchantID: "m_42", IdempotencyKey: "down-1", RequestID: "retry", CardKey: "c", At: now})
	if err != nil || a.Limited {
		t.Fatalf("the retry after a 503 was rate limited: %+v %v", a, err)
	}
}
