package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testRun() ciRun {
	return ciRun{
		stages: []step{{name: "lint"}, {name: "scan"}, {name: "scan-image"}},
		results: []outcome{
			{out: "ok       tofu fmt\n", took: 2 * time.Second},
			{err: errors.New("trivy: 1 HIGH/CRITICAL finding(s):\n  secrets: CRITICAL secret aws-access-key-id a_test.go:6 | x"), took: time.Second},
			{out: "NOT RUN  image x: vulnerabilities (no vulnerability database offline)\n", took: time.Second},
		},
	}
}

func TestCiSummaries(t *testing.T) {
	r := testRun()
	if got := strings.Join(r.failed(), ","); got != "scan" {
		t.Errorf("failed = %q", got)
	}
	text := r.text() + r.details()
	for _, want := range []string{"  scan       FAILED", "      NOT RUN  image x:", "FAILED stages: scan\n", "\n== scan\ntrivy: 1 HIGH"} {
		if !strings.Contains(text, want) {
			t.Errorf("text summary lacks %q:\n%s", want, text)
		}
	}
	md := r.markdown()
	for _, want := range []string{
		"## dagger call ci: FAILED stages: scan\n",
		"| lint | ok | 2.0 s |",
		"| scan | **FAILED** | 1.0 s |",
		"| scan-image | ok<br>NOT RUN  image x: vulnerabilities (no vulnerability database offline) |",
		"<details><summary>scan</summary>\n\n```\ntrivy: 1 HIGH",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown summary lacks %q:\n%s", want, md)
		}
	}
	r.results[1].err = errors.New("a report quoting ```code```")
	if md := r.markdown(); !strings.Contains(md, "````\na report quoting ```code```\n````") {
		t.Errorf("a fence in a report ends the code block early:\n%s", md)
	}
	r.results[1].err = nil
	if !strings.HasSuffix(r.text(), "all stages passed\n") || !strings.Contains(r.markdown(), "## dagger call ci: all stages passed") {
		t.Errorf("passing run:\n%s\n%s", r.text(), r.markdown())
	}
	if got := markdownCell("a|b <c>\nd"); got != `a\|b &lt;c&gt; d` {
		t.Errorf("markdownCell = %q", got)
	}
}

func TestMergeSarifKeepsEveryTargetApart(t *testing.T) {
	run := func(rule string) string {
		return `{"version":"2.1.0","$schema":"x","runs":[{"tool":{"driver":{"name":"Trivy"}},"results":[{"ruleId":"` + rule + `"}]}]}`
	}
	merged, err := mergeSarif(map[string][]byte{"secrets": []byte(run("aws-access-key-id")), "infra-modules": []byte(run("AVD-AWS-0107"))})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string
		Runs    []struct {
			Tool              struct{ Driver struct{ Name string } }
			AutomationDetails struct{ ID string }
			Results           []struct{ RuleID string }
		}
	}
	if err := json.Unmarshal(merged, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 2 {
		t.Fatalf("merged: %s", merged)
	}
	for i, want := range []struct{ id, rule string }{{"trivy/infra-modules/", "AVD-AWS-0107"}, {"trivy/secrets/", "aws-access-key-id"}} {
		r := doc.Runs[i]
		if r.AutomationDetails.ID != want.id || r.Tool.Driver.Name != "Trivy" || len(r.Results) != 1 || r.Results[0].RuleID != want.rule {
			t.Errorf("run %d: %+v, want category %s with %s", i, r, want.id, want.rule)
		}
	}
	for _, bad := range []string{"not json", `{"version":"2.0.0","runs":[]}`} {
		if _, err := mergeSarif(map[string][]byte{"x": []byte(bad)}); err == nil {
			t.Errorf("merged a broken report %q", bad)
		}
	}
}
