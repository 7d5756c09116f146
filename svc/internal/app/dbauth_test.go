package app_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/app"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
)

// awsStatic gives the default AWS chain static credentials and a region, and keeps the
// host's AWS files and a PGPASSWORD out.
func awsStatic(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_REGION": "eu-central-1", "AWS_PROFILE": "", "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		// pgx takes PGPASSWORD as a password-less URL's password, which IAM mode refuses.
		"PGPASSWORD": ""} {
		t.Setenv(k, v)
	}
}

func mustConfig(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// DATABASE_AUTH=iam reaches the validator's pool: a URL that would send the token
// without verify-full stops start-up before any connection, as does the migration
// that runs on DATABASE_URL.
func TestIAMAuthReachesTheValidatorsPool(t *testing.T) {
	awsStatic(t)
	cfg := mustConfig(t, map[string]string{
		"DATABASE_AUTH": "iam", "DATABASE_URL": "postgres://transaction_validator@127.0.0.1:1/payments?sslmode=require",
		"REDIS_ENDPOINT": "127.0.0.1:1", "PAN_HMAC_KEY": testKey, "MIGRATE_ON_START": "false",
	})
	log := telemetry.NewLogger(&strings.Builder{}, slog.LevelError, telemetry.ServiceName)
	_, err := app.New(context.Background(), cfg, log, "test")
	if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), "sslmode=verify-full") {
		t.Fatalf("app.New: want the verify-full config error, got %v", err)
	}
	if err := app.Migrate(context.Background(), cfg, log); !errors.Is(err, dbauth.ErrConfig) {
		t.Fatalf("Migrate on DATABASE_URL: want the config error, got %v", err)
	}
}

// MIGRATION_DATABASE_URL is the master user's, with its own password: DATABASE_AUTH=iam
// does not apply to it, so the migration job runs as before.
func TestMigrationURLKeepsItsPasswordInIAMMode(t *testing.T) {
	awsStatic(t)
	dbURL, _ := freshDB(t)
	cfg := mustConfig(t, map[string]string{
		"DATABASE_AUTH": "iam", "DATABASE_URL": "postgres://transaction_validator@127.0.0.1:1/payments?sslmode=require",
		"MIGRATION_DATABASE_URL": dbURL,
	})
	log := telemetry.NewLogger(&strings.Builder{}, slog.LevelError, telemetry.ServiceName)
	if err := app.Migrate(context.Background(), cfg, log); err != nil {
		t.Fatalf("Migrate on MIGRATION_DATABASE_URL in IAM mode: %v", err)
	}
	if n := countRows(t, dbURL, "SELECT count(*) FROM audit_decisions"); n != 0 {
		t.Fatalf("migrated database has %d audit rows", n)
	}
}
