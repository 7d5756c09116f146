package canary_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/canary"
	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// A histogram of 100 requests: 90 under 5 ms, 9 between 5 and 10 ms, 1 between 0.1 and
// 0.25 s; 3 of the 100 answered 500.
const exposition = `# TYPE txv_validate_requests_total counter
txv_validate_requests_total{code="200",decision="approve"} 90
txv_validate_requests_total{code="200",decision="decline"} 7
txv_validate_requests_total{code="500",decision="none"} 3
# TYPE txv_validate_request_duration_seconds histogram
txv_validate_request_duration_seconds_bucket{decision="approve",le="0.005"} 90
txv_validate_request_duration_seconds_bucket{decision="approve",le="0.01"} 90
txv_validate_request_duration_seconds_bucket{decision="approve",le="0.1"} 90
txv_validate_request_duration_seconds_bucket{decision="approve",le="0.25"} 90
txv_validate_request_duration_seconds_bucket{decision="approve",le="+Inf"} 90
txv_validate_request_duration_seconds_sum{decision="approve"} 0.2
txv_validate_request_duration_seconds_count{decision="approve"} 90
txv_validate_request_duration_seconds_bucket{decision="decline",le="0.005"} 0
txv_validate_request_duration_seconds_bucket{decision="decline",le="0.01"} 9
txv_validate_request_duration_seconds_bucket{decision="decline",le="0.1"} 9
txv_validate_request_duration_seconds_bucket{decision="decline",le="0.25"} 10
txv_validate_request_duration_seconds_bucket{decision="decline",le="+Inf"} 10
txv_validate_request_duration_seconds_sum{decision="decline"} 0.3
txv_validate_request_duration_seconds_count{decision="decline"} 10
`

func TestAnalyzeMergesSeriesAndInterpolates(t *testing.T) {
	r, err := canary.Analyze(strings.NewReader(exposition), canary.ProbeResult{}, canary.Thresholds{MaxErrorRatio: 0.05, MaxP99: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 100 || r.ServerErrors != 3 {
		t.Errorf("requests %v, server errors %v; want 100, 3", r.Requests, r.ServerErrors)
	}
	// Rank 99 of 100 is the 9th of the 9 requests in (5 ms, 10 ms]: 5 + 5*9/9 = 10 ms.
	if r.P99 != 10*time.Millisecond {
		t.Errorf("p99 = %s, want 10ms", r.P99)
	}
	if !r.Healthy {
		t.Errorf("3%% errors under a 5%% limit judged unhealthy: %v", r.Reasons)
	}
}

func TestAnalyzeBreaches(t *testing.T) {
	for name, tc := range map[string]struct {
		th    canary.Thresholds
		probe canary.ProbeResult
		want  string
	}{
		"error ratio":      {canary.Thresholds{MaxErrorRatio: 0.01}, canary.ProbeResult{}, "error ratio 3.00%"},
		"unanswered":       {canary.Thresholds{MaxErrorRatio: 0.05}, canary.ProbeResult{Sent: 100, Unanswered: 10}, "error ratio 10.00%"},
		"5xx from a proxy": {canary.Thresholds{MaxErrorRatio: 0.05}, canary.ProbeResult{Sent: 100, ServerErrors: 8}, "error ratio 8.00%"},
		"p99":              {canary.Thresholds{MaxErrorRatio: 1, MaxP99: 5 * time.Millisecond}, canary.ProbeResult{}, "p99 10ms above 5ms"},
		"no traffic":       {canary.Thresholds{MaxErrorRatio: 1, MinRequests: 1000}, canary.ProbeResult{}, "only 100 requests counted"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := canary.Analyze(strings.NewReader(exposition), tc.probe, tc.th)
			if err != nil {
				t.Fatal(err)
			}
			if r.Healthy || !strings.Contains(strings.Join(r.Reasons, ";"), tc.want) {
				t.Errorf("healthy=%v reasons=%v, want a reason containing %q", r.Healthy, r.Reasons, tc.want)
			}
		})
	}
}

func TestAnalyzeRejectsOtherMetricsPages(t *testing.T) {
	for name, page := range map[string]string{
		"not the validator": "# TYPE go_goroutines gauge\ngo_goroutines 7\n",
		"not metrics":       "<html>hello</html>",
	} {
		if _, err := canary.Analyze(strings.NewReader(page), canary.ProbeResult{}, canary.Thresholds{}); err == nil {
			t.Errorf("%s: analyzed without error", name)
		}
	}
}

func TestSyntheticCards(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for i := range 200 {
		tx, err := canary.SyntheticTransaction(i, now)
		if err != nil {
			t.Fatal(err)
		}
		num := tx.Card.Number
		if seen[num] {
			t.Fatalf("card %d repeats an earlier one", i)
		}
		seen[num] = true
		if want := i%10 != 9; card.LuhnValid(num) != want {
			t.Errorf("card %d (%s): Luhn valid = %v, want %v", i, num, !want, want)
		}
	}
}

// TestCheckRealService runs the gate against the real service on loopback with real
// PostgreSQL and Redis: a healthy version passes with declines counted as answers, and
// the same service behind a proxy that turns one answer in five into a 502 fails it.
func TestCheckRealService(t *testing.T) {
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	rd := devtest.Redis(t, devserver.RedisOptions{})
	svc := devtest.StartService(t, map[string]string{
		"DATABASE_URL": pg.URL, "REDIS_ENDPOINT": rd.Endpoint,
		"PAN_HMAC_KEY": strings.Repeat("ab", 32), "MAX_TRANSACTIONS_PER_SECOND": "100000",
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	th := canary.Thresholds{MaxErrorRatio: 0.01, MaxP99: 2 * time.Second, MinRequests: 100}
	if err := canary.WaitReady(ctx, "http://"+svc.API); err != nil {
		t.Fatal(err)
	}
	r, err := canary.Check(ctx, canary.Probe{BaseURL: "http://" + svc.API, Requests: 200, Concurrency: 4},
		"http://"+svc.Metrics+"/metrics", th)
	if err != nil {
		t.Fatalf("healthy service failed the gate: %v (%+v)", err, r)
	}
	if r.Requests < 200 || r.ServerErrors != 0 {
		t.Errorf("report %+v: want >= 200 requests and no server errors", r)
	}

	// A broken version: a front that answers every fifth request with 502 itself. The
	// version's metrics never see those, so the gate must count them from the probe's side.
	n := 0
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n++
		if n%5 == 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		proxyTo(t, w, req, "http://"+svc.API)
	}))
	defer broken.Close()
	_, err = canary.Check(ctx, canary.Probe{BaseURL: broken.URL, Requests: 100, Concurrency: 1},
		"http://"+svc.Metrics+"/metrics", th)
	if !errors.Is(err, canary.ErrUnhealthy) {
		t.Fatalf("gate passed a version that drops 20%% of requests: %v", err)
	}
}

func TestProbeBounds(t *testing.T) {
	for _, n := range []int{0, -1, 100_001} {
		if _, err := (canary.Probe{BaseURL: "http://127.0.0.1:1", Requests: n}).Run(context.Background()); err == nil {
			t.Errorf("Requests=%d accepted", n)
		}
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := canary.WaitReady(ctx, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("WaitReady on a never-ready version: %v", err)
	}
}

func proxyTo(t *testing.T, w http.ResponseWriter, req *http.Request, base string) {
	out, err := http.NewRequestWithContext(req.Context(), req.Method, base+req.URL.Path, req.Body)
	if err != nil {
		t.Error(err)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func TestAnalyzeAllAddsPods(t *testing.T) {
	pages := []io.Reader{strings.NewReader(exposition), strings.NewReader(exposition)}
	r, err := canary.AnalyzeAll(pages, canary.ProbeResult{}, canary.Thresholds{MaxErrorRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 200 || r.ServerErrors != 6 || r.P99 != 10*time.Millisecond {
		t.Errorf("two identical pods: requests %v, errors %v, p99 %s; want 200, 6, 10ms", r.Requests, r.ServerErrors, r.P99)
	}
}
