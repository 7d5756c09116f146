package fxrates

import "errors"

// Exit codes of cmd/fx-rates-etl, one per way a run can end. The CronJob's
// podFailurePolicy fails the Job at once on ExitConfig, ExitRejected and ExitStale (a new
// pod would end the same way) and lets ExitFailed be retried by a new pod;
// kustomize/etl_test.go reads these constants from this file and holds the manifest to
// them. 2 is left to the Go runtime (an unrecovered panic), retried like ExitFailed.
const (
	ExitOK       = 0
	ExitFailed   = 1 // transient: network, time-out, source 429/5xx, S3, Secrets Manager
	ExitConfig   = 3 // the environment or the command line is wrong
	ExitRejected = 4 // the source answered with data the job must not publish (DataError)
	ExitStale    = 5 // the source still carried old rates when the late window closed (StaleError)
)

// ConfigError means the job's environment or command line is wrong: no retry can help.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ExitCode maps a run's error to the process's exit code.
func ExitCode(err error) int {
	var ce *ConfigError
	var de *DataError
	var se *StaleError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		return ExitConfig
	case errors.As(err, &de):
		return ExitRejected
	case errors.As(err, &se):
		return ExitStale
	}
	return ExitFailed
}
