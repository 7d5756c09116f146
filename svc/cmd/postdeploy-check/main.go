// Command postdeploy-check runs the post-deploy checks (package postdeploy) against a
// promoted version through its Service, as a client would, and fails if the version
// breaks a promise of the API. The deploy pipeline runs it after the rollout and reverts
// the whole release on a non-zero exit.
//
//	postdeploy-check -url http://transaction-validator -max-burst 1000
//
// Exit status: 0 every check passed, 1 a check failed (the JSON results on stdout say
// which and why), 2 the checks could not run.
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

	"github.com/transaction-validator/transaction-validator/svc/internal/postdeploy"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "the validator API, through its Service")
	merchant := flag.String("merchant", postdeploy.DefaultMerchant, "merchant id of the checks' transactions (kept apart from real merchants)")
	maxBurst := flag.Int("max-burst", 1000, "most requests the 429 check sends; the service-wide limit must be below it")
	concurrency := flag.Int("concurrency", 16, "identical requests sent at once by the 409 check, and the burst's concurrency")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long all the checks may take")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	results, err := postdeploy.Run(ctx, postdeploy.Config{BaseURL: *url, Merchant: *merchant,
		MaxBurst: *maxBurst, Concurrency: *concurrency})
	_ = json.NewEncoder(os.Stdout).Encode(results)
	for _, r := range results {
		if !r.OK {
			fmt.Fprintf(os.Stderr, "postdeploy-check: FAILED %s: %s\n", r.Check, r.Detail)
		}
	}
	switch {
	case errors.Is(err, postdeploy.ErrFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "postdeploy-check:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "postdeploy-check: all %d checks passed\n", len(results))
}
