package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/canary"
)

// Live-traffic mode judges the pods' pages together: one healthy pod does not hide a
// failing one.
func TestLiveModeJudgesAllPods(t *testing.T) {
	dir := t.TempDir()
	page := func(name string, ok, failed int) string {
		p := filepath.Join(dir, name)
		body := "# TYPE txv_validate_requests_total counter\n" +
			"txv_validate_requests_total{code=\"200\",decision=\"approve\"} " + strconv.Itoa(ok) + "\n" +
			"txv_validate_requests_total{code=\"500\",decision=\"none\"} " + strconv.Itoa(failed) + "\n" +
			"# TYPE txv_validate_request_duration_seconds histogram\n" +
			"txv_validate_request_duration_seconds_bucket{decision=\"approve\",le=\"0.01\"} " + strconv.Itoa(ok) + "\n" +
			"txv_validate_request_duration_seconds_bucket{decision=\"approve\",le=\"+Inf\"} " + strconv.Itoa(ok) + "\n" +
			"txv_validate_request_duration_seconds_sum{decision=\"approve\"} 0.1\n" +
			"txv_validate_request_duration_seconds_count{decision=\"approve\"} " + strconv.Itoa(ok) + "\n"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	healthy, failing := page("a", 100, 0), page("b", 80, 20)
	th := canary.Thresholds{MaxErrorRatio: 0.05, MaxP99: time.Second, MinRequests: 50}
	if code := live([]string{healthy}, th); code != 0 {
		t.Errorf("healthy pod alone: exit %d", code)
	}
	if code := live([]string{healthy, failing}, th); code != 1 {
		t.Errorf("healthy + failing pod (10%% errors over both): exit %d, want 1", code)
	}
	if code := live([]string{filepath.Join(dir, "missing")}, th); code != 2 {
		t.Errorf("unreadable page: exit %d, want 2", code)
	}
	if code := live(nil, th); code != 2 {
		t.Errorf("no pages: exit %d, want 2", code)
	}
}
