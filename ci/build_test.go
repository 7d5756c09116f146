package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSmokeChecksExitStatusAndOutput(t *testing.T) {
	s := smokes("1.2.3")
	if len(s) != len(workloads) {
		t.Fatalf("%d smoke runs for %d workloads", len(s), len(workloads))
	}
	for _, name := range workloadNames() {
		if _, ok := s[name]; !ok {
			t.Errorf("no smoke run for %s", name)
		}
	}
	for _, c := range []struct {
		name, out string
		exit      int
		ok        bool
	}{
		{"transaction-validator", "1.2.3\n", 0, true},
		{"transaction-validator", "dev\n", 0, false},      // the version was not stamped
		{"transaction-validator", "1.2.3-rc\n", 0, false}, // another version
		{"transaction-validator", "1.2.3\n", 1, false},
		{"transaction-validator", "exec /usr/local/bin/transaction-validator: no such file or directory\n", 127, false},
		{"operator-console", "operator-console: console: configuration: missing VALIDATOR_URL, DATABASE_URL\n", 1, true},
		{"operator-console", "operator-console: console: configuration: missing VALIDATOR_URL\n", 2, false},
		{"operator-console", "exec /usr/local/bin/operator-console: exec format error\n", 1, false},
		{"operator-console", "panic: runtime error: invalid memory address\n", 2, false},
		{"operator-console", "", 0, false},
		{"fx-rates-etl", "fx-rates-etl: configuration: S3_BUCKET is required\n", 3, true},
		{"fx-rates-etl", "fx-rates-etl: configuration: S3_BUCKET is required\n", 1, false}, // would be retried
		{"fx-rates-etl", "fx-rates-etl: S3_BUCKET is required\n", 3, false},
		{"fx-rates-etl", "fatal error: unexpected signal\n", 1, false},
	} {
		err := s[c.name].check(c.exit, c.out)
		if (err == nil) != c.ok {
			t.Errorf("%s exit %d %q: accepted = %v, want %v (%v)", c.name, c.exit, c.out, err == nil, c.ok, err)
		}
	}
}

// TestSmokesMatchTheRealBinaries builds each workload from this checkout the way Binary
// does (the same package, the same -X main.version) and runs it as the smoke run does:
// the given arguments, an empty environment. The table above only checks the judge; this
// checks that what the judge expects is what the binaries do, which a change to a main's
// error path would otherwise break only in the engine.
func TestSmokesMatchTheRealBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	const version = "1.2.3-smoke"
	dir := t.TempDir()
	for _, name := range workloadNames() {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, name)
			build := exec.Command("go", "build", "-C", "..", "-trimpath", "-ldflags", "-X main.version="+version,
				"-o", bin, workloads[name])
			build.Env = append(build.Environ(), "CGO_ENABLED=0", "GOWORK=off")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", workloads[name], err, out)
			}
			s := smokes(version)[name]
			run := exec.Command(bin, s.args...)
			run.Env = []string{}
			var out bytes.Buffer
			run.Stdout, run.Stderr = &out, &out
			exit := 0
			if err := run.Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("running %s: %v", name, err)
				}
				exit = ee.ExitCode()
			}
			if err := s.check(exit, out.String()); err != nil {
				t.Error(err)
			}
		})
	}
}
