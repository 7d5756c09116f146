package canary_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/canary"
)

// fakePod is one validator pod: it answers /api/validate (every failEvery-th request with
// 500 when failEvery > 0) and exposes its counts in the validator's metric names.
type fakePod struct {
	mu        sync.Mutex
	ok, fail  int
	failEvery int
	cards     map[string]bool // card numbers seen
}

func (p *fakePod) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cards == nil {
		p.cards = map[string]bool{}
	}
	var tx struct {
		Card struct{ Number string } `json:"card"`
	}
	_ = json.NewDecoder(r.Body).Decode(&tx)
	p.cards[tx.Card.Number] = true
	if p.failEvery > 0 && (p.ok+p.fail+1)%p.failEvery == 0 {
		p.fail++
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	p.ok++
}

func (p *fakePod) metrics(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.ok + p.fail
	if n == 0 {
		// Like the validator's registry: a labelled counter has no series, and so no
		// family on the page, before its first request.
		fmt.Fprintln(w, "# TYPE go_goroutines gauge\ngo_goroutines 8")
		return
	}
	fmt.Fprintf(w, `# TYPE txv_validate_requests_total counter
txv_validate_requests_total{code="200",decision="approve"} %d
txv_validate_requests_total{code="500",decision="none"} %d
# TYPE txv_validate_request_duration_seconds histogram
txv_validate_request_duration_seconds_bucket{decision="approve",le="0.005"} %d
txv_validate_request_duration_seconds_bucket{decision="approve",le="+Inf"} %d
txv_validate_request_duration_seconds_sum{decision="approve"} 0
txv_validate_request_duration_seconds_count{decision="approve"} %d
`, p.ok, p.fail, n, n, n)
}

func (p *fakePod) served() int { p.mu.Lock(); defer p.mu.Unlock(); return p.ok + p.fail }

// service spreads requests like a ClusterIP Service over three stable pods and the
// canary: one request in four reaches the canary. It counts what it received.
type service struct {
	mu     sync.Mutex
	n      int
	stable fakePod
	canary *fakePod
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	toCanary := s.n%4 == 0
	s.mu.Unlock()
	if toCanary {
		s.canary.serve(w, r)
		return
	}
	s.stable.serve(w, r)
}

func startGate(t *testing.T, canaryPod *fakePod) (svcURL, metricsURL string, svc *service) {
	t.Helper()
	svc = &service{canary: canaryPod}
	api := httptest.NewServer(svc)
	t.Cleanup(api.Close)
	m := httptest.NewServer(http.HandlerFunc(canaryPod.metrics))
	t.Cleanup(m.Close)
	return api.URL, m.URL + "/metrics", svc
}

func TestSampleStopsAtTheCanarysMinimum(t *testing.T) {
	pod := &fakePod{}
	url, metrics, svc := startGate(t, pod)
	th := canary.Thresholds{MaxErrorRatio: 0.01, MaxP99: time.Second, MinRequests: 50}
	r, err := canary.Sample(context.Background(), canary.Probe{BaseURL: url, Requests: 5000, Concurrency: 4}, 40, []string{metrics}, th)
	if err != nil {
		t.Fatalf("healthy canary failed the gate: %v (%+v)", err, r)
	}
	// The canary gets a quarter of the traffic: 50 of its own need ~200 through the
	// Service, so the gate stops after a handful of batches, far below the budget.
	if r.Requests < 50 || pod.served() < 50 {
		t.Errorf("canary counted %.0f (served %d), want >= 50", r.Requests, pod.served())
	}
	if r.Probe.Sent > 240 || svc.n != r.Probe.Sent {
		t.Errorf("sent %d (service saw %d), want the first batch count past 200 and no more than 240", r.Probe.Sent, svc.n)
	}
	// Every request pays with its own test card, across batches too: a card seen again
	// would meet the per-card velocity limit and turn the gate into a rate-limit test.
	if got := len(pod.cards) + len(svc.stable.cards); got != r.Probe.Sent {
		t.Errorf("%d distinct cards for %d requests", got, r.Probe.Sent)
	}
}

func TestSampleJudgesTheCanaryAlone(t *testing.T) {
	// One in four of the canary's answers fail; the stable pods never do, which would
	// hide the canary's 25% in the Service-wide ratio (~6%) and pass a 10% gate.
	pod := &fakePod{failEvery: 4}
	url, metrics, _ := startGate(t, pod)
	th := canary.Thresholds{MaxErrorRatio: 0.10, MaxP99: time.Second, MinRequests: 40}
	r, err := canary.Sample(context.Background(), canary.Probe{BaseURL: url, Requests: 2000, Concurrency: 2}, 40, []string{metrics}, th)
	if !errors.Is(err, canary.ErrUnhealthy) {
		t.Fatalf("a canary failing 25%% of its requests passed: %v (%+v)", err, r)
	}
	if !strings.Contains(err.Error(), "error ratio 25.00%") {
		t.Errorf("reason %q does not give the canary's own error ratio", err)
	}
}

func TestSampleFailsWithoutItsSample(t *testing.T) {
	// The canary is out of the Service (not ready, or the selector misses it): however
	// much is sent, its own metrics never reach the minimum, and the budget bounds it.
	pod := &fakePod{}
	m := httptest.NewServer(http.HandlerFunc(pod.metrics))
	defer m.Close()
	stableOnly := httptest.NewServer(http.HandlerFunc((&fakePod{}).serve))
	defer stableOnly.Close()
	th := canary.Thresholds{MaxErrorRatio: 0.01, MaxP99: time.Second, MinRequests: 20}
	r, err := canary.Sample(context.Background(), canary.Probe{BaseURL: stableOnly.URL, Requests: 300, Concurrency: 4}, 100, []string{m.URL}, th)
	if !errors.Is(err, canary.ErrUnhealthy) || !strings.Contains(err.Error(), "no request reached the canary") {
		t.Fatalf("a canary that got no traffic passed or failed for another reason: %v", err)
	}
	if r.Probe.Sent != 300 {
		t.Errorf("sent %d, want exactly the budget of 300", r.Probe.Sent)
	}

	// The deadline bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = canary.Sample(ctx, canary.Probe{BaseURL: stableOnly.URL, Requests: 100_000, Concurrency: 1}, 10, []string{m.URL}, th)
	if !errors.Is(err, canary.ErrUnhealthy) {
		t.Fatalf("after the deadline: %v, want unhealthy (too few requests)", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the gate ran %s past a 300ms deadline", d)
	}
}

func TestSampleRefusesBadInput(t *testing.T) {
	p := canary.Probe{BaseURL: "http://127.0.0.1:1", Requests: 10}
	for name, err := range map[string]error{
		"no metrics": func() error {
			_, err := canary.Sample(context.Background(), p, 5, nil, canary.Thresholds{})
			return err
		}(),
		"no batch": func() error {
			_, err := canary.Sample(context.Background(), p, 0, []string{"http://x"}, canary.Thresholds{})
			return err
		}(),
		"no budget": func() error {
			q := p
			q.Requests = 0
			_, err := canary.Sample(context.Background(), q, 5, []string{"http://x"}, canary.Thresholds{})
			return err
		}(),
	} {
		if err == nil || errors.Is(err, canary.ErrUnhealthy) {
			t.Errorf("%s: %v, want an input error", name, err)
		}
	}
}

func TestSampleWaitsForItsPathToOpen(t *testing.T) {
	// The gate's pod is new: its first connections are refused until the NetworkPolicy
	// enforcer has its address. The gate must wait for the path, not fail on it.
	pod := &fakePod{}
	svc := httptest.NewServer(&service{canary: pod})
	defer svc.Close()
	var mu sync.Mutex
	refused := 3
	m := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if refused > 0 {
			refused--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		pod.metrics(w, r)
	}))
	defer m.Close()
	th := canary.Thresholds{MaxErrorRatio: 0.01, MaxP99: time.Second, MinRequests: 20}
	if r, err := canary.Sample(context.Background(), canary.Probe{BaseURL: svc.URL, Requests: 500, Concurrency: 2}, 40, []string{m.URL}, th); err != nil {
		t.Fatalf("the gate gave up on a path that opened after three refusals: %v (%+v)", err, r)
	}
}
