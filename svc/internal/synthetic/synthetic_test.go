package synthetic_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// TestRequestIsWhatTheServiceDecodes sends NewRequest's request through the service's
// own HTTP handler and checks what its decoder hands the endpoint: the body's shape and
// the headers are the API's, field for field.
func TestRequestIsWhatTheServiceDecodes(t *testing.T) {
	now := time.Date(2026, 12, 6, 23, 5, 0, 0, time.FixedZone("CET", 3600))
	pan, err := card.TestPAN(card.Amex, 42)
	if err != nil {
		t.Fatal(err)
	}
	tx := synthetic.New("merchant-7", 1234, pan, now)
	tx.Card.CVV = "1234"

	var got validation.Request
	ep := func(_ context.Context, req any) (any, error) {
		got = req.(validation.Request)
		return payment.Result{Decision: payment.Approve}, nil
	}
	h := validation.NewHTTPHandler(ep, validation.NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, err := synthetic.NewRequest(context.Background(), srv.URL+"/api/validate", "synthetic-key-1", tx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := payment.Transaction{
		MerchantID: "merchant-7", AmountMinor: 1234, Currency: "EUR", Country: "DE",
		PAN: payment.PAN(pan), ExpiryMonth: 12, ExpiryYear: 2028, CVV: "1234",
		Timestamp: time.Date(2026, 12, 6, 22, 5, 0, 0, time.UTC),
	}
	if got.IdempotencyKey != "synthetic-key-1" {
		t.Errorf("idempotency key %q, want synthetic-key-1", got.IdempotencyKey)
	}
	if !got.Txn.Timestamp.Equal(want.Timestamp) {
		t.Errorf("timestamp %s, want %s", got.Txn.Timestamp, want.Timestamp)
	}
	got.Txn.Timestamp = want.Timestamp
	if got.Txn != want {
		t.Errorf("decoded %#v\nwant    %#v", got.Txn, want)
	}
}

func TestNewLeavesCVVOut(t *testing.T) {
	tx := synthetic.New("m", 1, "4000000000000002", time.Now())
	if tx.Card.CVV != "" {
		t.Errorf("CVV %q, want none", tx.Card.CVV)
	}
	req, err := synthetic.NewRequest(context.Background(), "http://127.0.0.1/api/validate", "k", tx)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if tr, err := validation.DecodeTransaction(body); err != nil || tr.CVV != "" {
		t.Errorf("decoded CVV %q, err %v; want none: %s", tr.CVV, err, body)
	}
}

// BenchmarkNewRequest is the generator's own cost per request (cmd/loadgen calls
// NewRequest in its send loop), to set beside the latencies it measures.
func BenchmarkNewRequest(b *testing.B) {
	now := time.Now()
	tx := synthetic.New("m_7", 1234, "4000000000000002", now)
	tx.Card.CVV = "123"
	ctx := context.Background()
	for b.Loop() {
		if _, err := synthetic.NewRequest(ctx, "http://127.0.0.1:8080/api/validate", "lg-key", tx); err != nil {
			b.Fatal(err)
		}
	}
}
