// Command canary-check is the release gate of a canary. It judges a version of the
// validator by the version's own Prometheus metrics: the server-side error ratio and p99
// latency against the release's thresholds. The deploy pipeline runs it before promoting
// and rolls back on a non-zero exit. Two modes:
//
// Synthetic: wait for the version to be ready, drive a bounded burst of synthetic
// transactions at it, then read its /metrics.
//
//	canary-check -url http://canary:8080 -metrics-url http://canary:9090/metrics -requests 500
//
// Live traffic: judge metrics already collected from canary pods that served real traffic
// (files fetched through the Kubernetes API), sending nothing.
//
//	canary-check -requests 0 -min-requests 50 -metrics-file pod-a.txt -metrics-file pod-b.txt
//
// Sampled (the live canary's gate, run in the cluster next to the canary): send synthetic
// transactions to the Service, where the canary takes its share, in batches, until the
// canary pods' own metrics count -min-requests, then judge those pods alone. Bounded by
// -requests in all and by -max-time.
//
//	canary-check -url http://10.96.0.20:80 -requests 2000 -min-requests 100 \
//	  -canary-metrics-url http://10.246.0.7:9090/metrics -max-time 2m
//
// Exit status: 0 healthy, 1 unhealthy (the JSON report on stdout says why), 2 the check
// itself could not run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/canary"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the validator API under test (synthetic mode)")
	metricsURL := flag.String("metrics-url", "http://127.0.0.1:9090/metrics", "its Prometheus metrics page (synthetic mode)")
	requests := flag.Int("requests", 500, "synthetic transactions to send (at most 100000); 0 selects live-traffic mode")
	concurrency := flag.Int("concurrency", 8, "requests in flight at once")
	minRequests := flag.Int("min-requests", -1, "requests the metrics must count for a verdict (default: half of -requests)")
	maxErrorRatio := flag.Float64("max-error-ratio", 0.01, "highest share of 5xx answers (and unanswered requests) allowed")
	maxP99 := flag.Duration("max-p99", 500*time.Millisecond, "highest server-side p99 latency allowed (0: no limit)")
	readyTimeout := flag.Duration("ready-timeout", 2*time.Minute, "how long the version may take to become ready")
	var metricsFiles, canaryMetrics files
	flag.Var(&metricsFiles, "metrics-file", "live-traffic mode: a /metrics page of a canary pod (repeatable)")
	flag.Var(&canaryMetrics, "canary-metrics-url", "sampled mode: the /metrics URL of a canary pod (repeatable); -url is then the Service")
	batch := flag.Int("batch", 100, "sampled mode: transactions sent between two reads of the canary's metrics")
	maxTime := flag.Duration("max-time", 3*time.Minute, "sampled mode: how long the gate may send before it must have its sample")
	flag.Parse()

	if *minRequests < 0 {
		*minRequests = *requests / 2
	}
	t := canary.Thresholds{MaxErrorRatio: *maxErrorRatio, MaxP99: *maxP99, MinRequests: *minRequests}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *requests == 0 {
		os.Exit(live(metricsFiles, t))
	}
	if len(canaryMetrics) > 0 {
		sctx, cancel := context.WithTimeout(ctx, *maxTime)
		report, err := canary.Sample(sctx, canary.Probe{BaseURL: *url, Requests: *requests, Concurrency: *concurrency},
			*batch, canaryMetrics, t)
		cancel()
		os.Exit(verdict(report, err))
	}
	os.Exit(synthetic(ctx, *url, *metricsURL, *requests, *concurrency, *readyTimeout, t))
}

func synthetic(ctx context.Context, url, metricsURL string, requests, concurrency int, readyTimeout time.Duration, t canary.Thresholds) int {
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := canary.WaitReady(readyCtx, url); err != nil {
		fmt.Fprintln(os.Stderr, "canary-check:", err)
		return 1
	}
	report, err := canary.Check(ctx, canary.Probe{BaseURL: url, Requests: requests, Concurrency: concurrency}, metricsURL, t)
	return verdict(report, err)
}

// live judges the metrics pages of the canary's pods together.
func live(paths []string, t canary.Thresholds) int {
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "canary-check: -requests 0 needs at least one -metrics-file")
		return 2
	}
	var pages []io.Reader
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "canary-check:", err)
			return 2
		}
		pages = append(pages, bytes.NewReader(raw))
	}
	report, err := canary.AnalyzeAll(pages, canary.ProbeResult{}, t)
	if err == nil && !report.Healthy {
		err = fmt.Errorf("%w: %s", canary.ErrUnhealthy, strings.Join(report.Reasons, "; "))
	}
	return verdict(report, err)
}

func verdict(report canary.Report, err error) int {
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
