package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsAreInMemory(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.InMemory() || c.HTTPAddr != ":8080" || c.MetricsAddr != ":9090" || c.MaxTransactionsPerSecond != 1000 || c.LogLevel != slog.LevelInfo {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestFullConfig(t *testing.T) {
	key := strings.Repeat("ab", 32)
	c, err := FromEnv(env(map[string]string{
		"DATABASE_URL":                "postgres://u:p@db:5432/x",
		"REDIS_ENDPOINT":              "rediss://cfg.cache.amazonaws.com:6379",
		"REDIS_CLUSTER_MODE":          "true",
		"PAN_HMAC_KEY":                key,
		"LOG_LEVEL":                   "debug",
		"MAX_TRANSACTIONS_PER_SECOND": "2500",
		"DB_STATEMENT_MODE":           "exec",
		"SHUTDOWN_DRAIN_DELAY":        "0s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.InMemory() || !c.RedisClusterMode || c.MaxTransactionsPerSecond != 2500 || c.LogLevel != slog.LevelDebug ||
		c.DBPool.StatementMode != "exec" || len(c.PANHMACKey) != 32 || c.ShutdownDrainDelay != 0 || c.ShutdownTimeout != 20*time.Second {
		t.Fatalf("unexpected: %+v", c)
	}
}

func TestBadValuesNameTheVariableAndHideSecrets(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"MAX_TRANSACTIONS_PER_SECOND": "lots",
		"LOG_LEVEL":                   "loud",
		"DATABASE_URL":                "mysql://root:hunter2@db/x",
		"REDIS_ENDPOINT":              "nohostport",
		"PAN_HMAC_KEY":                "zz-secret-zz",
		"REQUEST_TIMEOUT":             "0s",
		"DB_STATEMENT_MODE":           "fast",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"MAX_TRANSACTIONS_PER_SECOND", "LOG_LEVEL", "DATABASE_URL", "REDIS_ENDPOINT", "PAN_HMAC_KEY", "REQUEST_TIMEOUT", "DB_STATEMENT_MODE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s: %s", want, msg)
		}
	}
	for _, secret := range []string{"hunter2", "zz-secret-zz"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks a secret: %s", msg)
		}
	}
}

func serving(m map[string]string) error {
	c, err := FromEnv(env(m))
	if err != nil {
		return err
	}
	return c.ForServing()
}

func TestHalfConfiguredIsRejectedForServing(t *testing.T) {
	if err := serving(map[string]string{"REDIS_ENDPOINT": "localhost:6379"}); err == nil {
		t.Fatal("REDIS_ENDPOINT without DATABASE_URL accepted")
	}
	if err := serving(map[string]string{"DATABASE_URL": "postgres://h/db", "REDIS_ENDPOINT": "h:6379"}); err == nil ||
		!strings.Contains(err.Error(), "PAN_HMAC_KEY") {
		t.Fatalf("missing PAN_HMAC_KEY accepted: %v", err)
	}
	// The migrate command needs only the database.
	if _, err := FromEnv(env(map[string]string{"DATABASE_URL": "postgres://h/db"})); err != nil {
		t.Fatalf("DATABASE_URL alone rejected: %v", err)
	}
	if _, err := FromEnv(env(map[string]string{"PAN_HMAC_KEY": "abcd"})); err == nil {
		t.Fatal("short key accepted")
	}
}

// DATABASE_AUTH is explicit: unset is the password mode every deployment had, "iam"
// needs a DATABASE_URL (or the service would fall back to in-memory stores), anything
// else is refused by name.
func TestDatabaseAuth(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"DATABASE_URL": "postgres://u:p@h/db"}))
	if err != nil || c.DatabaseAuth != dbauth.Password {
		t.Fatalf("default: %q, %v", c.DatabaseAuth, err)
	}
	c, err = FromEnv(env(map[string]string{"DATABASE_AUTH": "iam", "DATABASE_URL": "postgres://u@h:5432/db?sslmode=verify-full"}))
	if err != nil || c.DatabaseAuth != dbauth.IAM {
		t.Fatalf("iam: %q, %v", c.DatabaseAuth, err)
	}
	if _, err := FromEnv(env(map[string]string{"DATABASE_AUTH": "iam"})); err == nil ||
		!strings.Contains(err.Error(), "DATABASE_AUTH=iam needs DATABASE_URL") {
		t.Fatalf("iam without DATABASE_URL: %v", err)
	}
	if _, err := FromEnv(env(map[string]string{"DATABASE_AUTH": "kerberos", "DATABASE_URL": "postgres://u@h/db"})); err == nil ||
		!strings.Contains(err.Error(), `DATABASE_AUTH="kerberos"`) {
		t.Fatalf("unknown mode: %v", err)
	}
}
