// Package pgstore implements the durable stores on PostgreSQL (Aurora in production):
// the audit log with group commit, idempotency keys, merchant limits, and the embedded
// schema migrations.
package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
)

//go:embed migrations/*.sql
var migrations embed.FS

// PoolOptions are the pool settings taken from the environment.
type PoolOptions struct {
	MaxConns        int32
	MinConns        int32
	MaxConnLifetime time.Duration
	MaxConnIdleTime time.Duration
	// StatementMode is pgx's QueryExecMode by name; see config.DBPool.
	StatementMode string
	// Trace adds OpenTelemetry spans to every query.
	Trace bool
	// Auth is how connections log in: the URL's password (the zero value) or a fresh IAM
	// token for each (dbauth.IAM).
	Auth dbauth.Auth
}

var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// NewPool connects to databaseURL with the given options and checks the connection.
func NewPool(ctx context.Context, databaseURL string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message can quote the URL, password included: do not wrap it.
		return nil, errors.New("DATABASE_URL could not be parsed (value not shown)")
	}
	if err := o.Auth.Configure(cfg); err != nil {
		return nil, err
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	cfg.MinConns = o.MinConns
	if o.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = o.MaxConnLifetime
		// Jitter spreads reconnections after a failover instead of stampeding.
		cfg.MaxConnLifetimeJitter = o.MaxConnLifetime / 10
	}
	if o.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = o.MaxConnIdleTime
	}
	if m, ok := execModes[o.StatementMode]; ok {
		cfg.ConnConfig.DefaultQueryExecMode = m
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "transaction-validator"
	if o.Trace {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if o.Auth.Mode == dbauth.IAM {
			// Says where to look when the token is refused: the role's rds-db:connect
			// policy, or the database user's `GRANT rds_iam`.
			return nil, fmt.Errorf("postgres (IAM token login as %q): %w", cfg.ConnConfig.User, err)
		}
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}

// migrationLockID is the advisory lock replicas take so that only one of them migrates
// when several start at once.
const migrationLockID = 0x7478_7661_6c69_64 // "txvalid"

// Migrate applies every embedded migration not yet applied, under an advisory lock.
// It uses its own single connection (goose works on database/sql), separate from the
// pool, so it works behind a transaction-pooling proxy too.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrateDB(ctx, db)
}

func migrateDB(ctx context.Context, db *sql.DB) ([]string, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(locker), goose.WithVerbose(false))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
