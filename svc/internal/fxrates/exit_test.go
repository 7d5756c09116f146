package fxrates

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("s3 put: connection reset"), ExitFailed},
		{context.DeadlineExceeded, ExitFailed},
		{&ConfigError{Err: errors.New("S3_BUCKET is required")}, ExitConfig},
		{dataErr("only %d currencies", 3), ExitRejected},
		{fmt.Errorf("run: %w", &StaleError{Date: "2026-11-20", Due: "2026-11-23"}), ExitStale},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	// Distinct, and none is 2 (the Go runtime's exit code on a panic).
	seen := map[int]bool{}
	for _, code := range []int{ExitOK, ExitFailed, ExitConfig, ExitRejected, ExitStale} {
		if seen[code] || code == 2 {
			t.Fatalf("exit code %d reused", code)
		}
		seen[code] = true
	}
}
