package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"dagger/transaction-validator/pins"
)

// trivyBuiltinAllowRules are the IDs of the built-in allow rules of the pinned trivy, as
// pkg/fanal/secret/builtin-allow-rules.go of v0.68.2 defines them. Each one skips every
// matching path before trivy reads it.
var trivyBuiltinAllowRules = []string{"dist-info", "tests", "examples", "vendor", "usr-dirs", "locale-dir",
	"markdown", "node.js", "golang", "python", "rubygems", "wordpress", "anaconda-log"}

// secretScanConfig is the part of trivy's secret configuration (pkg/fanal/secret.Config)
// this repository uses; decoding is strict, so a misspelt key fails instead of being
// ignored the way trivy would ignore it.
type secretScanConfig struct {
	DisableAllowRules []string `json:"disable-allow-rules"`
	AllowRules        []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
		Regex       string `json:"regex"`
		Path        string `json:"path"`
	} `json:"allow-rules"`
}

func TestSecretScanHasNoBuiltinBlindSpots(t *testing.T) {
	// A new trivy may add allow rules: re-read builtin-allow-rules.go of the new version
	// and update trivyBuiltinAllowRules and trivy-secret.yaml with it.
	if !strings.HasSuffix(pins.Trivy, ":0.68.2") {
		t.Fatalf("trivyBuiltinAllowRules lists trivy 0.68.2's built-in allow rules; the pipeline pins %s", pins.Trivy)
	}
	raw, err := os.ReadFile("../" + secretConfig)
	if err != nil {
		t.Fatal(err)
	}
	var c secretScanConfig
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("%s: %v", secretConfig, err)
	}
	for _, id := range trivyBuiltinAllowRules {
		if !slices.Contains(c.DisableAllowRules, id) {
			t.Errorf("%s: trivy's built-in allow rule %q is not disabled", secretConfig, id)
		}
	}
	for _, id := range c.DisableAllowRules {
		if !slices.Contains(trivyBuiltinAllowRules, id) {
			t.Errorf("%s: %q is not a built-in allow rule of trivy 0.68.2 (a typo disables nothing)", secretConfig, id)
		}
	}
	// Our own allow rules: each with its reason, none that skips test code again.
	for _, r := range c.AllowRules {
		if r.ID == "" || len(strings.Fields(r.Description)) < 4 || (r.Regex == "") == (r.Path == "") {
			t.Errorf("allow rule %+v: needs an id, a description saying why, and one of regex or path", r)
		}
		if r.Path != "" {
			re, err := regexp.Compile(r.Path)
			if err != nil {
				t.Errorf("allow rule %s: %v", r.ID, err)
				continue
			}
			for _, p := range []string{"svc/internal/x/y_test.go", "svc/internal/x/testdata/creds.json", "docs/x.md", "svc/cmd/x/main.go"} {
				if re.MatchString(p) {
					t.Errorf("allow rule %s skips %s", r.ID, p)
				}
			}
		}
		if r.Regex != "" {
			if _, err := regexp.Compile(r.Regex); err != nil {
				t.Errorf("allow rule %s: %v", r.ID, err)
			}
		}
	}
}

func TestEverySecretScanUsesTheConfig(t *testing.T) {
	script := trivyScriptFor([]string{"dev/", "prod/", "README.md"})
	secretScans := 0
	for _, line := range strings.Split(script, "\n") {
		if strings.Contains(line, "--scanners") && strings.Contains(line, "secret") {
			secretScans++
			if !strings.Contains(line, secretConfigFlag) {
				t.Errorf("secret scan without %s: %s", secretConfigFlag, line)
			}
		}
	}
	if secretScans != 1 {
		t.Errorf("%d secret scans in the scan script, want 1:\n%s", secretScans, script)
	}
	for _, scanners := range []string{"secret,misconfig", "vuln,secret,misconfig"} {
		if s := imageScanScript("transaction-validator", scanners); !strings.Contains(s, secretConfigFlag) {
			t.Errorf("image scan without %s: %s", secretConfigFlag, s)
		}
	}
}
