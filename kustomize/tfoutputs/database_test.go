package tfoutputs

import (
	"strings"
	"testing"
)

const (
	prodProxy      = "tv-prod.proxy-c1d2e3f4a5b6.eu-central-1.rds.amazonaws.com"
	validatorIAM   = "postgres://transaction_validator@" + prodProxy + ":5432/payments?sslmode=verify-full"
	consoleIAM     = "postgres://operator_console@" + prodProxy + ":5432/payments?sslmode=verify-full"
	secretNameKey  = "database_url_secret_name"
	consoleNameKey = "operator_console_database_url_secret_name"
)

// iamOutputs is prod's outputs as infra prints them with database_client_auth = "iam":
// the two URL secrets' names null, the two password-less URLs set.
func iamOutputs(t testing.TB) map[string]map[string]any {
	doc := passwordOutputs(t)
	doc[secretNameKey]["value"] = nil
	doc[consoleNameKey]["value"] = nil
	doc["database_iam_url"]["value"] = validatorIAM
	doc["operator_console_database_iam_url"]["value"] = consoleIAM
	return doc
}

// passwordOutputs is prod's outputs in password mode, whatever mode the fixture is in.
func passwordOutputs(t testing.TB) map[string]map[string]any {
	doc := prodOutputs(t)
	doc[secretNameKey]["value"] = "transaction-validator/prod/database-url"
	doc[consoleNameKey]["value"] = "transaction-validator/prod/database/operator_console/url"
	doc["database_iam_url"]["value"] = nil
	doc["operator_console_database_iam_url"]["value"] = nil
	return doc
}

// Password mode (what every environment runs): the iam URLs are null and that is fine;
// only the secrets' names are written, so components/database-iam cannot build on it.
func TestRenderPasswordModeWritesSecretNamesOnly(t *testing.T) {
	out, err := Render(encode(t, passwordOutputs(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`database_url_secret_name: "transaction-validator/prod/database-url"`,
		`operator_console_database_url_secret_name: "transaction-validator/prod/database/operator_console/url"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered file lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "iam_url") {
		t.Errorf("password mode wrote an iam URL key:\n%s", out)
	}
}

// iam mode: the secrets' names are null and that is fine; only the URLs are written, so
// components/database-password cannot build on it.
func TestRenderIAMModeWritesURLsOnly(t *testing.T) {
	out, err := Render(encode(t, iamOutputs(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`database_iam_url: "` + validatorIAM + `"`,
		`operator_console_database_iam_url: "` + consoleIAM + `"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered file lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "secret_name:") {
		t.Errorf("iam mode wrote a DATABASE_URL secret name:\n%s", out)
	}
}

func TestRenderRefusesBadDatabaseLogins(t *testing.T) {
	url := func(u string) func(d map[string]map[string]any) {
		return func(d map[string]map[string]any) { d["database_iam_url"]["value"] = u }
	}
	for _, tc := range []struct {
		name   string
		base   func(testing.TB) map[string]map[string]any
		mutate func(map[string]map[string]any)
		want   []string
	}{
		{"iam: console URL null", iamOutputs, func(d map[string]map[string]any) { d["operator_console_database_iam_url"]["value"] = nil },
			[]string{"output operator_console_database_iam_url is null"}},
		{"iam: placeholder", iamOutputs, url("postgres://transaction_validator@TF_OUTPUT_MISSING_proxy:5432/payments?sslmode=verify-full"),
			[]string{"database_iam_url", "placeholder"}},
		{"iam: password in the URL", iamOutputs, url("postgres://transaction_validator:hunter2@" + prodProxy + ":5432/payments?sslmode=verify-full"),
			[]string{"output database_iam_url has a password"}},
		{"iam: another user", iamOutputs, url(consoleIAM), []string{"database_iam_url", "does not log in as transaction_validator"}},
		{"iam: TLS not verified", iamOutputs, url("postgres://transaction_validator@" + prodProxy + ":5432/payments?sslmode=require"),
			[]string{"database_iam_url", "sslmode=verify-full"}},
		{"iam: two hosts", iamOutputs, url("postgres://transaction_validator@" + prodProxy + ":5432,other:5432/payments?sslmode=verify-full"),
			[]string{"database_iam_url"}},
		{"iam: no database", iamOutputs, url("postgres://transaction_validator@" + prodProxy + ":5432/?sslmode=verify-full"),
			[]string{"database_iam_url", "names no database"}},
		{"iam: not postgres", iamOutputs, url("mysql://transaction_validator@" + prodProxy + ":5432/payments?sslmode=verify-full"),
			[]string{"database_iam_url", "not a postgres:// URL"}},
		{"iam: a secret name left", iamOutputs, func(d map[string]map[string]any) {
			d[consoleNameKey]["value"] = "transaction-validator/prod/database/operator_console/url"
		},
			[]string{"output operator_console_database_url_secret_name is set but database_iam_url is too"}},
		{"password: console URL set", passwordOutputs, func(d map[string]map[string]any) { d["operator_console_database_iam_url"]["value"] = consoleIAM },
			[]string{"operator_console_database_iam_url is set but database_iam_url is null"}},
		{"password: secret name null", passwordOutputs, func(d map[string]map[string]any) { d[secretNameKey]["value"] = nil },
			[]string{"output database_url_secret_name is null"}},
		{"missing iam URL output", passwordOutputs, func(d map[string]map[string]any) { delete(d, "operator_console_database_iam_url") },
			[]string{"output operator_console_database_iam_url is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.base(t)
			tc.mutate(doc)
			out, err := Render(encode(t, doc), Options{})
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}
