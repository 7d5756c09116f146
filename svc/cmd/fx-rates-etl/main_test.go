package main

import (
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
)

// A wrong environment or command line exits with ExitConfig, which the CronJob's
// podFailurePolicy fails at once instead of retrying.
func TestConfigurationErrorsExitAsSuch(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("S3_BUCKET", "")
	if code := fxrates.ExitCode(run(nil)); code != fxrates.ExitConfig {
		t.Errorf("no S3_BUCKET: exit %d, want %d", code, fxrates.ExitConfig)
	}
	t.Setenv("S3_BUCKET", "fx-data")
	if code := fxrates.ExitCode(run([]string{"-h"})); code != fxrates.ExitConfig {
		t.Errorf("unknown argument: exit %d, want %d", code, fxrates.ExitConfig)
	}
}
