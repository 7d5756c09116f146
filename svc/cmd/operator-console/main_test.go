package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/console"
	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
)

var settings = []string{"VALIDATOR_URL", "DATABASE_URL", "OIDC_ISSUER", "ALB_ARNS", "CONSOLE_VIEWER_GROUP",
	"CONSOLE_TESTER_GROUP", "CONSOLE_ORIGIN"}

// The console does not start without its authentication settings, and says which.
func TestRunNamesEachMissingSetting(t *testing.T) {
	for _, name := range settings {
		t.Setenv(name, "")
	}
	err := run()
	if !errors.Is(err, console.ErrConfig) {
		t.Fatalf("started without settings: %v", err)
	}
	for _, name := range settings {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	good := map[string]string{"VALIDATOR_URL": "http://validator:8080", "DATABASE_URL": "postgres://x@127.0.0.1:1/db",
		"OIDC_ISSUER": "https://idp.example.com", "CONSOLE_VIEWER_GROUP": "v", "CONSOLE_TESTER_GROUP": "t",
		"ALB_ARNS":       "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/tv-prod",
		"CONSOLE_ORIGIN": "https://console.example.com"}
	for _, c := range []struct{ name, value, want string }{
		{"ALB_ARNS", "arn:aws:s3:::bucket", "not an ALB ARN"},
		{"CONSOLE_ORIGIN", "https://console.example.com/console/", "CONSOLE_ORIGIN"},
		{"CONSOLE_ORIGIN", "console.example.com", "CONSOLE_ORIGIN"},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			for k, v := range good {
				t.Setenv(k, v)
			}
			t.Setenv(c.name, c.value)
			err := run()
			if !errors.Is(err, console.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a configuration error naming %q, got %v", c.want, err)
			}
		})
	}
}

// DATABASE_AUTH=iam is checked before the console connects: a mode it does not know, a
// missing region and a URL that is not verify-full each stop it with the reason.
func TestRunRefusesBadDatabaseAuth(t *testing.T) {
	good := map[string]string{"VALIDATOR_URL": "http://validator:8080",
		"DATABASE_URL": "postgres://operator_console@127.0.0.1:1/payments?sslmode=require",
		"OIDC_ISSUER":  "https://idp.example.com", "CONSOLE_VIEWER_GROUP": "v", "CONSOLE_TESTER_GROUP": "t",
		"ALB_ARNS":       "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/tv-prod",
		"CONSOLE_ORIGIN": "https://console.example.com",
		// Static credentials and no shared files: nothing from the host's AWS setup.
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_PROFILE": "",
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		// pgx would take it as the URL's password, which IAM mode refuses first.
		"PGPASSWORD": ""}
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_AUTH": "token", "AWS_REGION": "eu-central-1"}, `DATABASE_AUTH="token"`},
		{map[string]string{"DATABASE_AUTH": "iam", "AWS_REGION": ""}, "AWS_REGION"},
		{map[string]string{"DATABASE_AUTH": "iam", "AWS_REGION": "eu-central-1"}, "sslmode=verify-full"},
	} {
		t.Run(c.want, func(t *testing.T) {
			for k, v := range good {
				t.Setenv(k, v)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			err := run()
			if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a database auth configuration error naming %q, got %v", c.want, err)
			}
		})
	}
}
