package monitoring_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const runbookPrefix = "https://github.com/transaction-validator/transaction-validator/blob/main/docs/runbook.md#"

// runbookAnchors returns the anchors GitHub gives the headings of docs/runbook.md:
// lower case, punctuation other than "-" and "_" removed, spaces made "-".
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	punct := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		out[strings.ReplaceAll(punct.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
	}
	return out
}

// Every alert links to a runbook section that exists, and names the alert there, so the
// page an on-call engineer opens talks about what woke them.
func TestEveryAlertHasARunbookSection(t *testing.T) {
	anchors := runbookAnchors(t)
	if !anchors["error-budget-burn"] || !anchors["aws-alarms"] {
		t.Fatalf("heading parsing is broken: %v", anchors)
	}
	rawRunbook, err := os.ReadFile("../../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(observability, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &pr); err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			u := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(u, runbookPrefix)
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not a section of docs/runbook.md", r.Alert, u)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
			if !strings.Contains(string(rawRunbook), r.Alert) {
				t.Errorf("%s is not named in docs/runbook.md", r.Alert)
			}
		}
	}
	if alerts < 10 {
		t.Fatalf("only %d alerts found: the parsing is broken", alerts)
	}
}
