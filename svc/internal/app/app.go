// Package app assembles the transaction-validator from its parts, according to the
// configuration, and runs it until its context ends, then shuts it down gracefully.
// cmd/transaction-validator, the integration tests and the load generator all start the
// service through this package, so what they test is what runs in production.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/extra/redisprometheus/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/health"
	"github.com/transaction-validator/transaction-validator/svc/internal/inmem"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/redisstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// App is an assembled service, ready to Serve.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	probes  *health.Probes
	api     http.Handler
	metrics http.Handler
	// consoleTest serves the operator console's test transactions; nil unless
	// CONSOLE_TEST_ADDR is set. consoleTestLn is where, once ServeConsoleTests gave it.
	consoleTest   http.Handler
	consoleTestLn net.Listener

	pool        *pgxpool.Pool
	rdb         redis.UniversalClient
	audit       *pgstore.AuditLog
	memAudit    *inmem.AuditLog
	limits      *pgstore.MerchantLimits
	stopTracing func(context.Context) error
}

// claimTTL is how long an unfinished idempotency claim blocks its key: longer than any
// request may take, short enough that a crashed replica's claim frees itself quickly.
func claimTTL(cfg config.Config) time.Duration { return 2 * cfg.ReqTimeout }

// New connects to the stores named by cfg (or builds the in-memory ones), applies the
// migrations and assembles the handlers. It does not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, version string) (*App, error) {
	a := &App{cfg: cfg, log: log, reg: telemetry.NewRegistry()}
	if cfg.InMemory() {
		log.Warn("running on in-memory stores: DATABASE_URL and REDIS_ENDPOINT are unset; decisions, idempotency keys and limits are lost on exit and not shared between replicas (not for production)")
	}
	var err error
	if a.stopTracing, err = telemetry.SetupTracing(ctx, cfg.OTLPEndpointSet, cfg.TraceSampleRate, version); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}

	key := cfg.PANHMACKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	hasher, err := card.NewHasher(key)
	if err != nil {
		return nil, err
	}

	var deps validation.Deps
	checks := map[string]health.Check{}
	if cfg.InMemory() {
		a.memAudit = inmem.NewAuditLog(cfg.IdempotencyTTL)
		deps = validation.Deps{
			Admission: inmem.NewAdmission(claimTTL(cfg), cfg.MaxTransactionsPerSecond),
			Limits:    inmem.Limits{},
			Audit:     a.memAudit,
		}
	} else {
		if err := a.connect(ctx); err != nil {
			a.close()
			return nil, err
		}
		deps = validation.Deps{
			Admission: redisstore.NewAdmission(a.rdb, claimTTL(cfg), cfg.MaxTransactionsPerSecond),
			Limits:    a.limits,
			Audit:     a.audit,
		}
		pool, rdb := a.pool, a.rdb
		checks["postgres"] = func(ctx context.Context) error { return pool.Ping(ctx) }
		checks["redis"] = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	}
	deps.Hasher, deps.Logger = hasher, log
	// One Redis call's worth: Admit is one pipeline, and so is the give-back after a failure.
	deps.AdmissionTimeout = cfg.RedisTimeout

	rules := validation.DefaultRules()
	rules.VelocityCardPerMinute = int64(cfg.VelocityCardPerMinute)
	rules.VelocityMerchantPerMinute = int64(cfg.VelocityMerchantPerMinute)
	svc := validation.NewService(deps, rules)
	m := validation.NewMetrics(a.reg)
	// Shed first, so a shed request costs no timer; then bound the decision's time.
	ep := validation.LimitInFlight(cfg.MaxInFlight)(validation.Timeout(cfg.ReqTimeout)(validation.MakeValidateEndpoint(svc)))

	a.probes = health.New(checks, time.Second)
	mux := http.NewServeMux()
	a.probes.Register(mux)
	var api http.Handler = validation.NewHTTPHandler(ep, m, log)
	if cfg.OTLPEndpointSet {
		// Only with an exporter: without one every span is dropped, yet the middleware still
		// took 6.7% of the service's CPU under load (profile in docs/performance.md).
		api = otelhttp.NewHandler(api, "POST /api/validate",
			otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }))
	}
	mux.Handle("/api/", api)
	a.api = mux
	if cfg.ConsoleTestAddr != "" {
		// The same endpoint, so the same shedding and time bound; only the marker differs.
		a.consoleTest = validation.NewConsoleTestHandler(ep, a.reg, log)
	}

	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	a.metrics = metricsMux
	return a, nil
}

func (a *App) connect(ctx context.Context) error {
	cfg := a.cfg
	auth, err := dbauth.New(ctx, cfg.DatabaseAuth)
	if err != nil {
		return err
	}
	a.pool, err = pgstore.NewPool(ctx, cfg.DatabaseURL, pgstore.PoolOptions{
		MaxConns: cfg.DBPool.MaxConns, MinConns: cfg.DBPool.MinConns,
		MaxConnLifetime: cfg.DBPool.MaxConnLifetime, MaxConnIdleTime: cfg.DBPool.MaxConnIdleTime,
		StatementMode: cfg.DBPool.StatementMode, Trace: cfg.OTLPEndpointSet, Auth: auth,
	})
	if err != nil {
		return err
	}
	if cfg.MigrateOnStart {
		if err := Migrate(ctx, cfg, a.log); err != nil {
			return err
		}
	}
	if a.limits, err = pgstore.NewMerchantLimits(ctx, a.pool); err != nil {
		return err
	}
	redisstore.SetLogger(a.log)
	a.rdb, err = redisstore.NewClient(redisstore.Options{
		Endpoint: cfg.RedisEndpoint, ClusterMode: cfg.RedisClusterMode,
		Username: cfg.RedisUsername, Password: cfg.RedisPassword, CAFile: cfg.RedisCAFile,
		Timeout: cfg.RedisTimeout, PoolSize: cfg.RedisPoolSize,
	})
	if err != nil {
		return err
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if cfg.OTLPEndpointSet {
		if err := redisotel.InstrumentTracing(a.rdb); err != nil {
			return fmt.Errorf("redis tracing: %w", err)
		}
	}
	a.reg.MustRegister(pgxpoolprometheus.NewCollector(a.pool, map[string]string{"pool": "main"}),
		redisprometheus.NewCollector("txv", "redis", a.rdb))
	a.audit = pgstore.NewAuditLog(a.pool, pgstore.AuditOptions{
		Writers: cfg.AuditWriters, BatchMax: cfg.AuditBatchMax, Timeout: cfg.DBTimeout, IdempotencyTTL: cfg.IdempotencyTTL,
		Replica: cfg.Replica,
	}, a.reg)
	return nil
}

// Migrate applies the embedded migrations on MIGRATION_DATABASE_URL, or on DATABASE_URL
// when that is unset, with a small pool of its own. DATABASE_AUTH applies to DATABASE_URL
// only: MIGRATION_DATABASE_URL is the master user's, whose password RDS manages.
func Migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	url, mode := cfg.MigrationDatabaseURL, dbauth.Password
	if url == "" {
		url, mode = cfg.DatabaseURL, cfg.DatabaseAuth
	}
	auth, err := dbauth.New(ctx, mode)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	pool, err := pgstore.NewPool(ctx, url, pgstore.PoolOptions{MaxConns: 2, StatementMode: cfg.DBPool.StatementMode, Auth: auth})
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer pool.Close()
	applied, err := pgstore.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("database migrations applied", "migrations", applied)
	}
	return nil
}

// Handler is the API and probe handler (port 8080), for tests that serve it themselves.
func (a *App) Handler() http.Handler { return a.api }

// MetricsHandler is the Prometheus handler (port 9090).
func (a *App) MetricsHandler() http.Handler { return a.metrics }

// Probes exposes the probe state.
func (a *App) Probes() *health.Probes { return a.probes }

// InMemoryAudit returns the in-memory audit log, or nil when PostgreSQL backs the service.
func (a *App) InMemoryAudit() *inmem.AuditLog { return a.memAudit }

// ConsoleTestHandler is the handler of the operator console's test transactions, or nil
// when CONSOLE_TEST_ADDR is unset.
func (a *App) ConsoleTestHandler() http.Handler { return a.consoleTest }

// ServeConsoleTests makes the next Serve also answer the operator console's test
// transactions on l. It is an error when CONSOLE_TEST_ADDR is unset.
func (a *App) ServeConsoleTests(l net.Listener) error {
	if a.consoleTest == nil {
		return errors.New("console tests: CONSOLE_TEST_ADDR is unset")
	}
	a.consoleTestLn = l
	return nil
}

// Serve answers on api and metrics until ctx ends, then shuts down in the order that
// loses no request: readiness off, a pause for the load balancer to notice, stop
// accepting and finish in-flight requests, flush the audit queue, close the pools.
func (a *App) Serve(ctx context.Context, api, metrics net.Listener) error {
	apiSrv := &http.Server{Handler: a.api, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: a.cfg.ReqTimeout + 5*time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	metricsSrv := &http.Server{Handler: a.metrics, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- serve(apiSrv, api) }()
	go func() { errc <- serve(metricsSrv, metrics) }()
	var testSrv *http.Server
	if a.consoleTestLn != nil {
		testSrv = &http.Server{Handler: a.consoleTest, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: a.cfg.ReqTimeout + 5*time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		go func() { errc <- serve(testSrv, a.consoleTestLn) }()
	}

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	if a.limits != nil {
		go a.limits.Run(bg, a.cfg.MerchantLimitsRefresh, a.log)
		go a.purgeLoop(bg, a.pool)
	}
	a.probes.MarkStarted()
	a.log.Info("serving", "api", api.Addr().String(), "metrics", metrics.Addr().String(),
		"max_transactions_per_second", a.cfg.MaxTransactionsPerSecond)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		a.log.Error("server failed", "error", serveErr)
	}

	a.probes.StartDraining()
	a.log.Info("draining", "delay", a.cfg.ShutdownDrainDelay.String())
	time.Sleep(a.cfg.ShutdownDrainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := apiSrv.Shutdown(sctx); err != nil {
		a.log.Error("in-flight requests did not finish in time", "error", err)
	}
	if testSrv != nil {
		if err := testSrv.Shutdown(sctx); err != nil {
			a.log.Error("in-flight console tests did not finish in time", "error", err)
		}
	}
	stopBG()
	a.close()
	_ = metricsSrv.Shutdown(sctx)
	a.log.Info("stopped")
	return serveErr
}

func serve(s *http.Server, l net.Listener) error {
	if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// purgeLoop deletes expired idempotency keys every few minutes.
func (a *App) purgeLoop(ctx context.Context, pool *pgxpool.Pool) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := pgstore.PurgeIdempotencyKeys(ctx, pool, a.cfg.IdempotencyTTL); err != nil {
				a.log.Warn("idempotency key purge failed", "error", err)
			} else if n > 0 {
				a.log.Info("idempotency keys purged", "count", n)
			}
		}
	}
}

// Close releases the stores of an App that never served (Serve closes them itself).
func (a *App) Close() { a.close() }

func (a *App) close() {
	if a.audit != nil {
		a.audit.Close()
		a.audit = nil
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
		a.rdb = nil
	}
	if a.pool != nil {
		a.pool.Close()
		a.pool = nil
	}
	if a.stopTracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.stopTracing(ctx)
		cancel()
		a.stopTracing = nil
	}
}
