package validation_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// blockingService holds every call until release is closed.
type blockingService struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingService) Validate(ctx context.Context, req validation.Request) (payment.Result, error) {
	b.entered <- struct{}{}
	<-b.release
	return payment.Result{RequestID: req.RequestID, Decision: payment.Approve, Reasons: []payment.Reason{}, DecidedAt: now}, nil
}

// TestLimitInFlight: with its limit of requests in flight reached, the service sheds the
// next at once with 503 overloaded and Retry-After, instead of queueing it on the store
// pools until the client's own time-out; once one finishes, the next is served again.
func TestLimitInFlight(t *testing.T) {
	svc := &blockingService{entered: make(chan struct{}, 4), release: make(chan struct{})}
	ep := validation.LimitInFlight(2)(validation.MakeValidateEndpoint(svc))
	h := validation.NewHTTPHandler(ep, validation.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	post := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/validate", strings.NewReader(txn(nil)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = post("held").Code }()
	}
	<-svc.entered
	<-svc.entered
	shed := make(chan *httptest.ResponseRecorder)
	go func() { shed <- post("shed") }()
	select {
	case rec := <-shed:
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 503 || body.Error.Code != "overloaded" || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("third request: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request over the limit waited instead of being shed")
	}
	close(svc.release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("held requests: %v", codes)
	}
	if rec := post("after"); rec.Code != 200 {
		t.Fatalf("after the limit freed: %d %s", rec.Code, rec.Body)
	}
}
