package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// vulncheckOutput is the end of a passing scripts/vulncheck.sh run, as the script prints it.
const vulncheckOutput = `[01:02:03] building nothing
===== govulncheck v1.10.0 =====
Go vulnerability database of 2026-11-05 (golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018, 4789 reports): 32 days old, limit 45
PASS  source  .  (accepted in vulncheck.allow: GO-2026-6599)
PASS  binary  transaction-validator
NOT RUN source  ci  (its generated Dagger SDK is absent: ` + "`dagger develop`" + ` makes it)
vulnerability gate passed: no reachable known vulnerability
`

// TestVulncheckDatabaseDateReachesTheCiSummary follows the database's date from the
// script's output through the scan stage's step report into ci's text and Markdown
// summaries of a passing run.
func TestVulncheckDatabaseDateReachesTheCiSummary(t *testing.T) {
	summary := vulncheckSummary(vulncheckOutput)
	if strings.Contains(summary, "building nothing") || !strings.Contains(summary, "PASS  binary  transaction-validator") {
		t.Errorf("summary is not the script's summary:\n%s", summary)
	}
	report, err := runSteps(context.Background(),
		step{"govulncheck", func(context.Context) (string, error) { return summary, nil }},
		step{"trivy", func(context.Context) (string, error) { return "NOTE: not a note line\n", nil }},
	)
	if err != nil {
		t.Fatal(err)
	}
	const note = "NOTE Go vulnerability database of 2026-11-05 (golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018, 4789 reports): 32 days old, limit 45"
	r := ciRun{stages: []step{{name: "scan"}}, results: []outcome{{out: report, took: time.Second}}}
	if !strings.Contains(r.text(), "      "+note+"\n") {
		t.Errorf("ci summary lacks the database's date:\n%s", r.text())
	}
	if !strings.Contains(r.markdown(), "| scan | ok<br>"+markdownCell(note)+"<br>") {
		t.Errorf("markdown summary lacks the database's date:\n%s", r.markdown())
	}
	if !strings.Contains(r.text(), "      NOTE NOT RUN source  ci  (its generated Dagger SDK is absent") {
		t.Errorf("ci summary lacks the scan that did not run:\n%s", r.text())
	}
	if strings.Count(r.text(), "NOTE") != 2 {
		t.Errorf("only lines starting with \"NOTE \" are notes:\n%s", r.text())
	}
}

// TestVulncheckMaxAgeDefault holds Vulncheck's +default to vulndbMaxAgeDays, the age the
// scan stage passes: the two are the same limit written twice (a pragma is a comment).
func TestVulncheckMaxAgeDefault(t *testing.T) {
	src, err := os.ReadFile("scan.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)// \+default=(\d+)\n\tmaxAge int,`).FindSubmatch(src)
	if m == nil || string(m[1]) != "45" || vulndbMaxAgeDays != 45 {
		t.Errorf("Vulncheck's maxAge default %q and vulndbMaxAgeDays %d disagree (or moved)", m, vulndbMaxAgeDays)
	}
}
