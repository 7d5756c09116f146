package validation_test

import (
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/inmem"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// reasonCounts returns txv_validate_reasons_total by "decision/reason".
func reasonCounts(t *testing.T, f *fixture) map[string]float64 {
	t.Helper()
	mfs, err := f.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != validation.MetricReasons {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if len(l) != 2 || l["decision"] == "" || l["reason"] == "" {
				t.Fatalf("%s series with labels %v, want decision and reason", validation.MetricReasons, l)
			}
			out[l["decision"]+"/"+l["reason"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// Decisions are counted per reason code, each reason of a decision once, a replay not
// again; every code exists at zero from the start, and nothing else ever appears.
func TestReasonMetric(t *testing.T) {
	f := newFixture(t, 1000, inmem.Limits{"m_capped": {"EUR": 50000}})

	start := reasonCounts(t, f)
	if len(start) != len(payment.Reasons()) {
		t.Fatalf("%d series before any request, want one per reason code (%d): %v", len(start), len(payment.Reasons()), start)
	}
	for _, r := range payment.Reasons() {
		key := string(payment.Decide([]payment.Reason{r})) + "/" + string(r)
		if v, ok := start[key]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 before any request", key, v, ok)
		}
	}

	// Two decline reasons in one request, a review, an approval (no reason), a replay of
	// the decline, and a malformed request (no decision).
	two := txn(map[string]any{"card.number": "4111111111111112", "currency": "XXX"})
	if a := f.post(t, "k-1", two); a.Body["decision"] != "decline" || len(reasonsOf(a)) != 2 {
		t.Fatalf("want a decline with two reasons, got %s", a.RawBody)
	}
	if a := f.post(t, "k-1", two); a.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("want a replay, got %d %s", a.Status, a.RawBody)
	}
	if a := f.post(t, "k-2", txn(map[string]any{"merchant_id": "m_capped", "amount": 50001})); a.Body["decision"] != "review" {
		t.Fatalf("want a review, got %s", a.RawBody)
	}
	f.post(t, "k-3", txn(nil))
	f.post(t, "k-4", `{"amount":`)

	got := reasonCounts(t, f)
	want := map[string]float64{
		"decline/card_number_invalid":    1,
		"decline/currency_unsupported":   1,
		"review/merchant_limit_exceeded": 1,
	}
	for k, v := range got {
		if v != want[k] {
			t.Errorf("%s = %v, want %v", k, v, want[k])
		}
		if _, known := start[k]; !known && want[k] == 0 {
			t.Errorf("new series %s after the requests", k)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
}
