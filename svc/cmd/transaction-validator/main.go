// Command transaction-validator serves POST /api/validate, which decides whether a
// payment transaction may go on to a processor.
//
//	transaction-validator            serve (API on :8080, metrics on :9090)
//	transaction-validator migrate    apply the database migrations and exit
//	transaction-validator version    print the version
//
// Configuration comes from the environment; see docs/service.md.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/app"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "transaction-validator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "version":
		fmt.Println(version)
		return nil
	case "serve", "migrate":
	default:
		return fmt.Errorf("unknown command %q (want serve, migrate or version)", cmd)
	}

	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(os.Stdout, cfg.LogLevel, telemetry.ServiceName)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if cmd == "migrate" {
		if cfg.InMemory() {
			return fmt.Errorf("migrate needs DATABASE_URL")
		}
		mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return app.Migrate(mctx, cfg, log)
	}

	if err := cfg.ForServing(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	a, err := app.New(startCtx, cfg, log, version)
	cancel()
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		a.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		apiLn.Close()
		a.Close()
		return fmt.Errorf("METRICS_ADDR: %w", err)
	}
	if cfg.ConsoleTestAddr != "" {
		testLn, err := net.Listen("tcp", cfg.ConsoleTestAddr)
		if err != nil {
			apiLn.Close()
			metricsLn.Close()
			a.Close()
			return fmt.Errorf("CONSOLE_TEST_ADDR: %w", err)
		}
		if err := a.ServeConsoleTests(testLn); err != nil {
			return err
		}
	}
	return a.Serve(ctx, apiLn, metricsLn)
}
