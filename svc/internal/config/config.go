// Package config reads the service's settings from the environment. Every value is
// checked at start-up, and a bad one stops the process with an error naming the variable
// (but never echoing a secret's value).
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
)

// Config is the service's whole configuration.
type Config struct {
	HTTPAddr    string
	MetricsAddr string
	// ConsoleTestAddr, when set, is where the validator takes the operator console's test
	// transactions (validation.NewConsoleTestHandler): a port the ALB routes nothing to and
	// only the console's pods may reach. Empty: no such listener, and no request can be a test.
	ConsoleTestAddr string
	LogLevel        slog.Level

	// DatabaseURL and RedisEndpoint are both empty in in-memory mode.
	DatabaseURL string
	// DatabaseAuth is how DatabaseURL's connections log in (DATABASE_AUTH): the URL's
	// password (dbauth.Password, the default) or an RDS IAM token made for each
	// connection (dbauth.IAM; then the URL carries no password). Migrations on
	// MigrationDatabaseURL always use that URL's password.
	DatabaseAuth dbauth.Mode
	// MigrationDatabaseURL, when set, is a direct connection used only for migrations:
	// they hold a session-level advisory lock, which a transaction-pooling proxy
	// (PgBouncer in transaction mode) cannot keep.
	MigrationDatabaseURL string
	// MigrateOnStart applies migrations at start-up; off when a separate job runs
	// `transaction-validator migrate` before the rollout.
	MigrateOnStart bool
	RedisEndpoint  string
	// RedisClusterMode selects the cluster client, for ElastiCache with cluster mode on.
	RedisClusterMode bool
	RedisUsername    string
	RedisPassword    string
	// RedisCAFile adds a CA bundle for TLS; ElastiCache needs none.
	RedisCAFile   string
	RedisPoolSize int

	MaxTransactionsPerSecond int
	// MaxInFlight bounds the requests one replica decides at once; more are shed with 503.
	// The default equals RedisPoolSize's, so an admitted request never waits for a Redis
	// connection (each needs one at a time); kustomize's tests hold the deployed values to
	// that and to the HPA's per-pod rate (a full queue drains within 1 s).
	MaxInFlight int

	// PANHMACKey keys the hash that replaces card numbers in storage. Empty only in
	// in-memory mode, where a random per-process key is generated.
	PANHMACKey []byte

	DBPool        DBPool
	DBTimeout     time.Duration
	RedisTimeout  time.Duration
	ReqTimeout    time.Duration
	AuditBatchMax int
	AuditWriters  int

	VelocityCardPerMinute     int
	VelocityMerchantPerMinute int
	MerchantLimitsRefresh     time.Duration
	IdempotencyTTL            time.Duration
	// Replica names this pod in the decisions and replays it records (POD_NAME, from the
	// downward API; the host name, which Kubernetes sets to the pod's name, otherwise).
	Replica string

	ShutdownDrainDelay time.Duration
	ShutdownTimeout    time.Duration

	// OTLPEndpointSet turns trace export on; the exporter reads the standard OTEL_*
	// variables itself.
	OTLPEndpointSet bool
	TraceSampleRate float64
}

// DBPool holds the pgx pool settings. Zero values keep pgx's defaults.
type DBPool struct {
	MaxConns        int32
	MinConns        int32
	MaxConnLifetime time.Duration
	MaxConnIdleTime time.Duration
	// StatementMode is pgx's default_query_exec_mode: "cache_statement" (default, fastest
	// on a direct connection) or "exec"/"simple_protocol" behind a transaction-pooling
	// proxy (PgBouncer in transaction mode, RDS Proxy) where named prepared statements
	// would break or pin connections.
	StatementMode string
}

// InMemory reports whether the service runs on its embedded stores.
func (c Config) InMemory() bool { return c.DatabaseURL == "" && c.RedisEndpoint == "" }

// FromEnv reads the configuration through getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		HTTPAddr:                  r.str("HTTP_ADDR", ":8080"),
		MetricsAddr:               r.str("METRICS_ADDR", ":9090"),
		ConsoleTestAddr:           r.getenv("CONSOLE_TEST_ADDR"),
		LogLevel:                  r.level("LOG_LEVEL", slog.LevelInfo),
		DatabaseURL:               r.secretURL("DATABASE_URL", "postgres", "postgresql"),
		MigrationDatabaseURL:      r.secretURL("MIGRATION_DATABASE_URL", "postgres", "postgresql"),
		DatabaseAuth:              r.dbAuth("DATABASE_AUTH"),
		MigrateOnStart:            r.boolean("MIGRATE_ON_START", true),
		RedisEndpoint:             r.redisEndpoint("REDIS_ENDPOINT"),
		RedisClusterMode:          r.boolean("REDIS_CLUSTER_MODE", false),
		RedisUsername:             getenv("REDIS_USERNAME"),
		RedisPassword:             getenv("REDIS_PASSWORD"),
		RedisCAFile:               getenv("REDIS_CA_FILE"),
		RedisPoolSize:             r.positiveInt("REDIS_POOL_SIZE", 64),
		MaxTransactionsPerSecond:  r.positiveInt("MAX_TRANSACTIONS_PER_SECOND", 1000),
		MaxInFlight:               r.positiveInt("MAX_IN_FLIGHT", 64),
		PANHMACKey:                r.hexKey("PAN_HMAC_KEY"),
		DBTimeout:                 r.duration("DB_TIMEOUT", 2*time.Second),
		RedisTimeout:              r.duration("REDIS_TIMEOUT", 250*time.Millisecond),
		ReqTimeout:                r.duration("REQUEST_TIMEOUT", 5*time.Second),
		AuditBatchMax:             r.positiveInt("AUDIT_BATCH_MAX", 256),
		AuditWriters:              r.positiveInt("AUDIT_WRITERS", 2),
		VelocityCardPerMinute:     r.positiveInt("VELOCITY_CARD_PER_MINUTE", 10),
		VelocityMerchantPerMinute: r.positiveInt("VELOCITY_MERCHANT_PER_MINUTE", 60000),
		MerchantLimitsRefresh:     r.duration("MERCHANT_LIMITS_REFRESH", 30*time.Second),
		IdempotencyTTL:            r.duration("IDEMPOTENCY_TTL", 24*time.Hour),
		Replica:                   r.str("POD_NAME", hostname()),
		ShutdownDrainDelay:        r.nonNegDuration("SHUTDOWN_DRAIN_DELAY", 5*time.Second),
		ShutdownTimeout:           r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		OTLPEndpointSet:           getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "",
		TraceSampleRate:           r.ratio("TRACE_SAMPLE_RATIO", 0.05),
		DBPool: DBPool{
			MaxConns:        int32(r.positiveInt("DB_POOL_MAX_CONNS", 16)),
			MinConns:        int32(r.nonNegInt("DB_POOL_MIN_CONNS", 2)),
			MaxConnLifetime: r.duration("DB_POOL_MAX_CONN_LIFETIME", 30*time.Minute),
			MaxConnIdleTime: r.duration("DB_POOL_MAX_CONN_IDLE_TIME", 5*time.Minute),
			StatementMode:   r.oneOf("DB_STATEMENT_MODE", "cache_statement", "cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"),
		},
	}
	if c.DBPool.MinConns > c.DBPool.MaxConns {
		r.fail("DB_POOL_MIN_CONNS must not exceed DB_POOL_MAX_CONNS")
	}
	if c.DatabaseAuth == dbauth.IAM && c.DatabaseURL == "" {
		// Otherwise the service would quietly fall back to in-memory stores.
		r.fail("DATABASE_AUTH=iam needs DATABASE_URL (the proxy, the user and sslmode=verify-full; no password)")
	}
	if len(r.errs) > 0 {
		return Config{}, errors.Join(r.errs...)
	}
	return c, nil
}

// ForServing adds the checks that only serving needs (the migrate command needs just
// DATABASE_URL): both stores or neither, and a stable PAN key when data persists.
func (c Config) ForServing() error {
	var errs []error
	if (c.DatabaseURL == "") != (c.RedisEndpoint == "") {
		errs = append(errs, errors.New("config: DATABASE_URL and REDIS_ENDPOINT must be set together (or neither, for in-memory mode)"))
	}
	if !c.InMemory() && c.PANHMACKey == nil {
		errs = append(errs, errors.New("config: PAN_HMAC_KEY is required when DATABASE_URL is set: card hashes must survive restarts"))
	}
	return errors.Join(errs...)
}

// reader collects every error instead of stopping at the first, so that one start-up
// attempt reports all the bad variables at once.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("config: "+format, args...))
}

func (r *reader) str(name, def string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return def
}

func (r *reader) positiveInt(name string, def int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.fail("%s=%q: must be a positive integer", name, v)
		return def
	}
	return n
}

func (r *reader) nonNegInt(name string, def int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail("%s=%q: must be a non-negative integer", name, v)
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	d := r.nonNegDuration(name, def)
	if d == 0 {
		r.fail("%s: must be greater than zero", name)
		return def
	}
	return d
}

func (r *reader) nonNegDuration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail("%s=%q: must be a duration such as 250ms or 5s", name, v)
		return def
	}
	return d
}

func (r *reader) ratio(name string, def float64) float64 {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		r.fail("%s=%q: must be a number between 0 and 1", name, v)
		return def
	}
	return f
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail("%s=%q: must be true or false", name, v)
		return def
	}
	return b
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail("%s=%q: must be one of %s", name, v, strings.Join(allowed, ", "))
	return def
}

func (r *reader) dbAuth(name string) dbauth.Mode {
	m, err := dbauth.ParseMode(r.getenv(name))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("config: %w", err))
		return dbauth.Password
	}
	return m
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail("%s=%q: must be debug, info, warn or error", name, v)
		return def
	}
	return l
}

// secretURL checks a URL that may hold a password; its errors never include the value.
func (r *reader) secretURL(name string, schemes ...string) string {
	v := r.getenv(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil {
		r.fail("%s: not a valid URL (value not shown: it may hold a password)", name)
		return ""
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				r.fail("%s: URL has no host", name)
				return ""
			}
			return v
		}
	}
	r.fail("%s: URL scheme must be one of %s", name, strings.Join(schemes, ", "))
	return ""
}

// redisEndpoint accepts redis:// and rediss:// URLs, or a bare host:port as ElastiCache
// prints it (then TLS is off unless the URL form is used).
func (r *reader) redisEndpoint(name string) string {
	v := r.getenv(name)
	if v == "" {
		return ""
	}
	if strings.Contains(v, "://") {
		return r.secretURL(name, "redis", "rediss")
	}
	if _, port, ok := strings.Cut(v, ":"); !ok || port == "" {
		r.fail("%s: must be redis://host:port, rediss://host:port or host:port", name)
		return ""
	}
	return v
}

// hexKey reads a hex-encoded secret key of at least 32 bytes.
func (r *reader) hexKey(name string) []byte {
	v := r.getenv(name)
	if v == "" {
		return nil
	}
	k, err := hex.DecodeString(strings.TrimSpace(v))
	if err != nil {
		r.fail("%s: must be hex-encoded (value not shown)", name)
		return nil
	}
	if len(k) < 32 {
		r.fail("%s: must be at least 32 bytes (64 hex digits), got %d bytes", name, len(k))
		return nil
	}
	return k
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
