package fxrates_test

import (
	"strings"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
)

func env(kv ...string) func(string) string {
	m := map[string]string{"S3_BUCKET": "b"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := fxrates.ConfigFromEnv(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceURL != fxrates.DefaultSourceURL || c.MaxLagDays != 0 || c.MaxRetryAfter != 2*time.Minute ||
		c.LatePoll != 5*time.Minute || c.LateWait != 40*time.Minute || c.RunTimeout != 50*time.Minute {
		t.Fatalf("%+v", c)
	}
	if c, err := fxrates.ConfigFromEnv(env("FX_MAX_LAG_DAYS", "2")); err != nil || c.MaxLagDays != 2 {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestConfigSourceURLAndAuth(t *testing.T) {
	for _, u := range []string{"https://fx.example.com/daily.xml", "http://127.0.0.1:8080/x.xml", "http://localhost/x.xml", "http://[::1]:9/x"} {
		if _, err := fxrates.ConfigFromEnv(env("FX_SOURCE_URL", u)); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	c, err := fxrates.ConfigFromEnv(env("FX_API_KEY_SECRET_ID", "fx/api-key"))
	if err != nil || c.SourceAuth != fxrates.AuthNone {
		t.Fatalf("the default must send no key: %+v %v", c, err)
	}
	if _, err := fxrates.ConfigFromEnv(env("FX_SOURCE_AUTH", "bearer")); err == nil || !strings.Contains(err.Error(), "FX_API_KEY_SECRET_ID") {
		t.Fatalf("bearer without a secret: %v", err)
	}
	if c, err := fxrates.ConfigFromEnv(env("FX_SOURCE_AUTH", "bearer", "FX_API_KEY_SECRET_ID", "k")); err != nil || c.SourceAuth != fxrates.AuthBearer {
		t.Fatalf("%+v %v", c, err)
	}
}

// Each bad setting is refused with an error naming the variable.
func TestConfigRefuses(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"S3_BUCKET", "", "S3_BUCKET"},
		{"FX_MAX_AGE", "96h", "FX_MAX_LAG_DAYS"}, // the calendar-hours rule is gone: say so
		{"FX_MAX_LAG_DAYS", "-1", "FX_MAX_LAG_DAYS"},
		{"FX_MAX_LAG_DAYS", "two", "FX_MAX_LAG_DAYS"},
		{"FX_HTTP_TIMEOUT", "0s", "FX_HTTP_TIMEOUT"},
		{"FX_MAX_ATTEMPTS", "11", "FX_MAX_ATTEMPTS"},
		{"FX_MAX_RETRY_AFTER", "-1s", "FX_MAX_RETRY_AFTER"},
		// Only HTTPS leaves the machine.
		{"FX_SOURCE_URL", "http://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml", "must be https://"},
		{"FX_SOURCE_URL", "http://10.0.0.8/eurofxref-daily.xml", "must be https://"},
		{"FX_SOURCE_URL", "http://127.0.0.1.example.com/x.xml", "must be https://"},
		{"FX_SOURCE_URL", "ftp://ftp.ecb.europa.eu/x.xml", "must be https://"},
		{"FX_SOURCE_URL", "www.ecb.europa.eu/x.xml", "not an absolute URL"},
		{"FX_SOURCE_AUTH", "basic", "FX_SOURCE_AUTH"},
		{"FX_LATE_POLL", "50m", "FX_LATE_POLL"},     // longer than FX_LATE_WAIT
		{"FX_RUN_TIMEOUT", "41m", "FX_RUN_TIMEOUT"}, // no room after FX_LATE_WAIT
	} {
		_, err := fxrates.ConfigFromEnv(env(c.name, c.value))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: %v, want an error naming %s", c.name, c.value, err, c.want)
		}
	}
}
