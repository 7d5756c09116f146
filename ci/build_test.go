package main

import "testing"

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
		{"operator-console", "operator-console: console: VALIDATOR_URL and DATABASE_URL are required\n", 1, true},
		{"operator-console", "exec /usr/local/bin/operator-console: exec format error\n", 1, false},
		{"operator-console", "panic: runtime error: invalid memory address\n", 2, false},
		{"operator-console", "", 0, false},
		{"fx-rates-etl", "fx-rates-etl: S3_BUCKET is required\n", 1, true},
		{"fx-rates-etl", "fx-rates-etl: S3_BUCKET is required\n", 2, false},
		{"fx-rates-etl", "fatal error: unexpected signal\n", 1, false},
	} {
		err := s[c.name].check(c.exit, c.out)
		if (err == nil) != c.ok {
			t.Errorf("%s exit %d %q: accepted = %v, want %v (%v)", c.name, c.exit, c.out, err == nil, c.ok, err)
		}
	}
}
