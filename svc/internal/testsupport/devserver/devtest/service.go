package devtest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/app"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
)

// Service is the real transaction-validator serving on loopback for a test.
type Service struct {
	API     string // host:port of the API and probes
	Metrics string // host:port of /metrics
	// ConsoleTest is host:port of the operator console's test-transaction listener, when
	// env sets CONSOLE_TEST_ADDR (its value is ignored: the listener is on loopback).
	ConsoleTest string
}

// StartService runs the service configured by env (read as the environment would be)
// until the test ends, logging nowhere.
//
// Unless env sets REDIS_TIMEOUT, it is 5 s instead of the service's 250 ms: under the race
// detector on a loaded machine Redis answers later than that, and the 503s would fail tests
// about something else (the canary gate counts them as the version's errors). Tests of the
// time-outs set their own.
func StartService(t testing.TB, env map[string]string) Service {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok || k != "REDIS_TIMEOUT" {
			return v
		}
		return "5s"
	})
	if err == nil {
		err = cfg.ForServing()
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), "test")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := Service{API: api.Addr().String(), Metrics: metrics.Addr().String()}
	if cfg.ConsoleTestAddr != "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ServeConsoleTests(l); err != nil {
			t.Fatal(err)
		}
		svc.ConsoleTest = l.Addr().String()
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Serve(sctx, api, metrics); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return svc
}
