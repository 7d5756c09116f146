// Command operator-console serves the operator console on HTTP_ADDR (default :8081):
// a web UI to submit test transactions to the validator and watch recent decisions.
//
// VALIDATOR_URL is the in-cluster base URL of the validator's console-test listener
// (CONSOLE_TEST_ADDR), which marks what the console sends as test transactions;
// DATABASE_URL connects as a role that may only SELECT from audit_decisions; with
// DATABASE_AUTH=iam it carries no password and each connection logs in with an RDS IAM
// token (package dbauth). Operators log in at the ALB (an OIDC listener rule in front of
// the console's own host); the console verifies the identity the ALB signs
// (x-amzn-oidc-data) on every request but the probes: OIDC_ISSUER, ALB_ARNS,
// CONSOLE_VIEWER_GROUP and CONSOLE_TESTER_GROUP say what it checks against,
// CONSOLE_ORIGIN is its public origin for the CSRF check. It does not start without
// them, and has no unauthenticated mode. Prometheus metrics are served on METRICS_ADDR
// (default :9090), a listener of their own that no Ingress routes to. See
// docs/operator-console.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/console"
	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "operator-console:", err)
		os.Exit(1)
	}
}

func run() error {
	// Every setting the console refuses to start without, by the variable that sets it:
	// the database and validator it serves, and what it checks operators against.
	settings := map[string]string{}
	var missing []string
	for _, name := range []string{"VALIDATOR_URL", "DATABASE_URL", "OIDC_ISSUER", "ALB_ARNS",
		"CONSOLE_VIEWER_GROUP", "CONSOLE_TESTER_GROUP", "CONSOLE_ORIGIN"} {
		if settings[name] = strings.TrimSpace(os.Getenv(name)); settings[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", console.ErrConfig, strings.Join(missing, ", "))
	}
	groupsClaim := os.Getenv("OIDC_GROUPS_CLAIM")
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	log := telemetry.NewLogger(os.Stdout, slog.LevelInfo, "operator-console")
	auth, err := albauth.New(albauth.Config{
		Issuer:      settings["OIDC_ISSUER"],
		ALBs:        strings.Split(settings["ALB_ARNS"], ","),
		KeysURL:     os.Getenv("ALB_PUBLIC_KEYS_URL"),
		GroupsClaim: groupsClaim,
		ViewerGroup: settings["CONSOLE_VIEWER_GROUP"],
		TesterGroup: settings["CONSOLE_TESTER_GROUP"],
		Log:         log,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", console.ErrConfig, err)
	}
	origin, err := url.Parse(settings["CONSOLE_ORIGIN"])
	if err != nil || origin.Scheme == "" || origin.Host == "" || origin.Path != "" || origin.RawQuery != "" {
		return fmt.Errorf("%w: CONSOLE_ORIGIN %q must be scheme://host[:port], the console's public origin", console.ErrConfig, settings["CONSOLE_ORIGIN"])
	}
	validator, dbURL := settings["VALIDATOR_URL"], settings["DATABASE_URL"]
	addr := os.Getenv("HTTP_ADDR")
	if addr == "" {
		addr = ":8081"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	mode, err := dbauth.ParseMode(os.Getenv("DATABASE_AUTH"))
	if err != nil {
		return fmt.Errorf("%w: %w", console.ErrConfig, err)
	}
	dbAuth, err := dbauth.New(ctx, mode)
	if err != nil {
		return fmt.Errorf("%w: %w", console.ErrConfig, err)
	}
	pool, err := pgstore.NewPool(ctx, dbURL, pgstore.PoolOptions{MaxConns: 4, StatementMode: "exec", Auth: dbAuth})
	if err != nil {
		return err
	}
	defer pool.Close()
	metricsAddr := os.Getenv("METRICS_ADDR")
	if metricsAddr == "" {
		metricsAddr = ":9090"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &console.Server{ValidatorURL: validator, Audit: pool, Log: log, Now: time.Now, Auth: auth,
		Origin: origin.Scheme + "://" + origin.Host, Metrics: console.NewMetrics(reg),
		Client: &http.Client{Timeout: 10 * time.Second}}
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	metricsSrv := &http.Server{Addr: metricsAddr, Handler: metricsMux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	go func() { errc <- metricsSrv.ListenAndServe() }()
	defer metricsSrv.Close()
	log.Info("serving", "addr", addr, "validator", validator)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
