// Command canary-check is the release gate of a canary: it waits for the version under
// test to be ready, drives a bounded burst of synthetic transactions at it, then reads
// the version's own Prometheus metrics and fails when the server-side error ratio or the
// p99 latency breaks the release's thresholds. The deploy pipeline runs it before each
// promotion step and rolls back on a non-zero exit.
//
//	canary-check -url http://canary:8080 -metrics-url http://canary:9090/metrics \
//	    -requests 500 -max-error-ratio 0.01 -max-p99 500ms
//
// Exit status: 0 healthy, 1 unhealthy (the JSON report on stdout says why), 2 the check
// itself could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/canary"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the validator API under test")
	metricsURL := flag.String("metrics-url", "http://127.0.0.1:9090/metrics", "its Prometheus metrics page")
	requests := flag.Int("requests", 500, "synthetic transactions to send (at most 100000)")
	concurrency := flag.Int("concurrency", 8, "requests in flight at once")
	maxErrorRatio := flag.Float64("max-error-ratio", 0.01, "highest share of 5xx answers (and unanswered requests) allowed")
	maxP99 := flag.Duration("max-p99", 500*time.Millisecond, "highest server-side p99 latency allowed (0: no limit)")
	readyTimeout := flag.Duration("ready-timeout", 2*time.Minute, "how long the version may take to become ready")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *url, *metricsURL, *requests, *concurrency, *readyTimeout,
		canary.Thresholds{MaxErrorRatio: *maxErrorRatio, MaxP99: *maxP99, MinRequests: *requests / 2}))
}

func run(ctx context.Context, url, metricsURL string, requests, concurrency int, readyTimeout time.Duration, t canary.Thresholds) int {
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := canary.WaitReady(readyCtx, url); err != nil {
		fmt.Fprintln(os.Stderr, "canary-check:", err)
		return 1
	}
	report, err := canary.Check(ctx, canary.Probe{BaseURL: url, Requests: requests, Concurrency: concurrency}, metricsURL, t)
	if report.Requests > 0 || report.Probe.Sent > 0 {
		_ = json.NewEncoder(os.Stdout).Encode(report)
	}
	switch {
	case errors.Is(err, canary.ErrUnhealthy):
		fmt.Fprintln(os.Stderr, "canary-check:", err)
		return 1
	case err != nil:
		fmt.Fprintln(os.Stderr, "canary-check:", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "canary-check: healthy: %.0f requests, error ratio %.2f%%, p99 %s\n",
		report.Requests, 100*report.ErrorRatio, report.P99)
	return 0
}
