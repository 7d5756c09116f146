package main

import (
	"dagger/transaction-validator/internal/dagger"

	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const rendered = `apiVersion: v1
kind: Namespace
metadata:
  name: transaction-validator
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: transaction-validator
  name: transaction-validator
  namespace: transaction-validator
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: transaction-validator
  template:
    metadata:
      labels:
        app.kubernetes.io/name: transaction-validator
    spec:
      containers:
      - image: registry.example/txv@sha256:aaaa
        name: transaction-validator
---
apiVersion: v1
kind: Service
metadata:
  name: transaction-validator
  namespace: transaction-validator
spec:
  selector:
    app.kubernetes.io/name: transaction-validator
`

func TestSplitDeploymentAndCanary(t *testing.T) {
	rest, stable, err := splitDeployment(rendered)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rest, "kind: Deployment") || !strings.Contains(rest, "kind: Service") || !strings.Contains(rest, "kind: Namespace") {
		t.Errorf("rest should hold everything but the Deployment:\n%s", rest)
	}
	canary, err := canaryOf(stable)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Metadata struct{ Name string }
		Spec     struct {
			Replicas int
			Selector struct{ MatchLabels map[string]string }
			Template struct {
				Metadata struct{ Labels map[string]string }
				Spec     struct{ Containers []struct{ Image string } }
			}
		}
	}
	if err := yaml.Unmarshal([]byte(canary), &d); err != nil {
		t.Fatal(err)
	}
	if d.Metadata.Name != "transaction-validator-canary" || d.Spec.Replicas != 1 {
		t.Errorf("canary name %q replicas %d", d.Metadata.Name, d.Spec.Replicas)
	}
	if d.Spec.Selector.MatchLabels["track"] != "canary" || d.Spec.Template.Metadata.Labels["track"] != "canary" {
		t.Errorf("canary not labelled apart from the stable pods: %+v", d.Spec)
	}
	// Still selected by the Service (its selector is a subset of the canary's labels).
	if d.Spec.Template.Metadata.Labels["app.kubernetes.io/name"] != "transaction-validator" {
		t.Errorf("canary pods lost the Service's label")
	}
	if d.Spec.Template.Spec.Containers[0].Image != "registry.example/txv@sha256:aaaa" {
		t.Errorf("canary runs %q", d.Spec.Template.Spec.Containers[0].Image)
	}
	if strings.Contains(stable, "canary") {
		t.Error("deriving the canary changed the stable Deployment")
	}

	if _, _, err := splitDeployment(strings.Replace(rendered, "kind: Deployment", "kind: StatefulSet", 1)); err == nil {
		t.Error("manifests without the Deployment accepted")
	}
}

func TestDeployAcceptsOnlyDigests(t *testing.T) {
	good := "127.0.0.1:5055/txv/transaction-validator@sha256:" + strings.Repeat("a", 64)
	for ref, want := range map[string]bool{
		good: true,
		"123456789012.dkr.ecr.eu-central-1.amazonaws.com/transaction-validator@sha256:" + strings.Repeat("0", 64): true,
		"127.0.0.1:5055/txv/transaction-validator:latest":                                                         false,
		"127.0.0.1:5055/txv/transaction-validator@sha256:" + strings.Repeat("a", 63):                              false,
		good + "\n--kubeconfig=/etc/passwd":                                                                       false,
	} {
		if digestRef.MatchString(ref) != want {
			t.Errorf("%q accepted = %v, want %v", ref, !want, want)
		}
	}
	for env, want := range map[string]string{"local": "dev", "dev": "dev", "staging": "staging", "prod": "prod"} {
		if got, err := overlayFor(env); err != nil || got != want {
			t.Errorf("overlayFor(%s) = %s, %v", env, got, err)
		}
	}
	if _, err := overlayFor("production"); err == nil {
		t.Error("unknown environment accepted")
	}
}

func TestGatedFindings(t *testing.T) {
	report := `{"Results":[{"Target":"main.tf","Misconfigurations":[
	  {"ID":"AWS-0086","Title":"bucket public","Severity":"HIGH","Status":"FAIL","CauseMetadata":{"StartLine":7}},
	  {"ID":"AWS-0090","Title":"versioning","Severity":"MEDIUM","Status":"FAIL"},
	  {"ID":"AWS-0087","Title":"passed","Severity":"CRITICAL","Status":"PASS"}]},
	 {"Target":"x.env","Secrets":[{"RuleID":"aws-access-key-id","Title":"AWS key","Severity":"CRITICAL","StartLine":2}]},
	 {"Target":"go.mod","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"x","InstalledVersion":"1","FixedVersion":"2","Severity":"LOW"}]}]}`
	got, err := gatedFindings([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.Contains(got[1], "AWS-0086 main.tf:7") || !strings.Contains(got[0], "aws-access-key-id x.env:2") {
		t.Errorf("gated findings: %q", got)
	}
	if _, err := gatedFindings([]byte("not json")); err == nil {
		t.Error("a broken report passed the gate")
	}
}

func TestApplyOnlyTheApprovedPlan(t *testing.T) {
	plan := []byte("tfplan bytes")
	const digest = "3a9c2a4f0b5ad6fba8e3f2bb3f4ef4d0b5b43fbd4a1ac1b5b9bd05c1c66c0c77"
	if err := checkApproved(sha(plan), "  "+strings.ToUpper(sha(plan))+"\n"); err != nil {
		t.Errorf("approved digest (as pasted) refused: %v", err)
	}
	for _, approved := range []string{digest, "", sha([]byte("another plan"))} {
		if err := checkApproved(sha(plan), approved); err == nil {
			t.Errorf("plan applied with approval %q", approved)
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDebianTestPackages(t *testing.T) {
	got, err := debianTestPackages("# c\nA=1\nDEBIAN_TEST_PACKAGES=\"postgresql redis-server libc++1\"\n")
	if err != nil || got != "postgresql redis-server libc++1" {
		t.Errorf("debianTestPackages = %q, %v", got, err)
	}
	for _, bad := range []string{
		"A=1\n", // missing
		"DEBIAN_TEST_PACKAGES=\"postgresql; rm -rf /\"", // the value reaches apt-get in sh -c
		"DEBIAN_TEST_PACKAGES=\"\"",
		"DEBIAN_TEST_PACKAGES=\"redis  chromium\"",
		"DEBIAN_TEST_PACKAGES=\"$(id)\"", // refused by pins.ParseEnv: bash would run it
		"DEBIAN_TEST_PACKAGES=\"a\"\nDEBIAN_TEST_PACKAGES=\"b\"",
	} {
		if got, err := debianTestPackages(bad); err == nil {
			t.Errorf("debianTestPackages(%q) = %q, want an error", bad, got)
		}
	}
}

// TestInfraEnvsAreFilesOfTheRoot: plan and apply name an environment's backend and var file
// in infra/envs; each must exist (with its tests), and every var file there must be an
// environment CI can plan.
func TestInfraEnvsAreFilesOfTheRoot(t *testing.T) {
	root := filepath.Join("..", infraRoot)
	for _, name := range infraEnvs {
		env, err := newTofuEnv(name)
		if err != nil {
			t.Fatal(err)
		}
		init := strings.Join(env.initArgs(), " ")
		plan := planScript(env, nil, planOptions{})
		for _, f := range []string{name + ".s3.tfbackend", name + ".tfvars", "tests/" + name + ".tftest.hcl"} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if !strings.Contains(init, "-backend-config="+name+".s3.tfbackend") {
			t.Errorf("%s: init does not select its backend: %s", name, init)
		}
		if !strings.Contains(plan, "tofu plan -lock-timeout=5m -var-file="+name+".tfvars ") {
			t.Errorf("%s: plan does not read its var file:\n%s", name, plan)
		}
		if strings.Contains(plan, subscribersPath) {
			t.Errorf("%s: plan reads alert subscribers nobody gave:\n%s", name, plan)
		}
		// Given, the subscribers come after the committed values, so they win.
		if with := planScript(env, new(dagger.Secret), planOptions{}); !strings.Contains(with, "-var-file="+name+".tfvars -var-file="+subscribersPath+" ") {
			t.Errorf("%s: plan does not read the alert subscribers it was given:\n%s", name, with)
		}
	}
	varFiles, err := filepath.Glob(filepath.Join(root, "*.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range varFiles {
		if name := strings.TrimSuffix(filepath.Base(f), ".tfvars"); !slices.Contains(infraEnvs, name) {
			t.Errorf("%s has no entry in infraEnvs: CI could not plan it", f)
		}
	}
}

// TestUnknownEnvironmentRefused: the name becomes part of file names.
func TestUnknownEnvironmentRefused(t *testing.T) {
	for _, name := range []string{"", "qa", "../prod", "prod.tfvars"} {
		if _, err := newTofuEnv(name); err == nil {
			t.Errorf("newTofuEnv(%q) accepted", name)
		}
	}
}

// TestTrivyScansEachEnvironmentWithItsValues: each environment is scanned with its own var
// file, and only with its own suppressions (prod has none).
func TestTrivyScansEachEnvironmentWithItsValues(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", infraRoot))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	script := trivyScriptFor(files)
	for _, want := range []string{
		"trivy config --tf-vars /src/infra/envs/dev.tfvars --ignorefile /src/infra/envs/dev.trivyignore /src/infra/envs --exit-code 0 --format json --output /reports/infra-env-dev.json\n",
		"trivy config --tf-vars /src/infra/envs/staging.tfvars --ignorefile /src/infra/envs/staging.trivyignore /src/infra/envs --exit-code 0 --format json --output /reports/infra-env-staging.json\n",
		"trivy config --tf-vars /src/infra/envs/prod.tfvars /src/infra/envs --exit-code 0 --format json --output /reports/infra-env-prod.json\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("missing from the trivy script: %q\n%s", want, script)
		}
	}
}

// TestTestStageHasEveryFileTheTestsRead: a Go test under svc/ that reads a file from a
// directory the test stage leaves out (infra/, docs/, .github/, the overlays, ci/) passes
// on a checkout and fails in the engine, as the fxrates alarm test did; every such path
// must be one of testInputs.
func TestTestStageHasEveryFileTheTestsRead(t *testing.T) {
	read := regexp.MustCompile(`"((?:\.\./)+)((?:infra|docs|\.github|kustomize/overlays|ci)/[^"]+)"`)
	found := 0
	err := filepath.WalkDir(filepath.Join("..", "svc"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range read.FindAllStringSubmatch(string(src), -1) {
			found++
			if !slices.Contains(testInputs, m[2]) {
				t.Errorf("%s reads %s, which the test stage leaves out: add it to testInputs (ci/test.go), from an upload testFiles takes it from", path, m[2])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no test reads a file outside svc/: the pattern no longer finds docs/runbook.md's reader")
	}
}

// TestTestsViewMatchesTestsLeftOut holds New's tests argument, whose +ignore filters the
// upload, to testsLeftOut, by which sameTests compares it with the whole checkout at run
// time, and every test input to an upload testFiles takes it from. (A mismatch would fail
// every run in New; this says where, before a run.)
func TestTestsViewMatchesTestsLeftOut(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*// \+ignore=(\[.*\])\n\s*tests \*dagger\.Directory,$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("main.go: no +ignore pragma right above New's tests argument")
	}
	var patterns []string
	if err := yaml.Unmarshal(m[1], &patterns); err != nil {
		t.Fatalf("main.go: the tests argument's +ignore: %v", err)
	}
	for _, p := range testsLeftOut {
		if !slices.Contains(patterns, p) {
			t.Errorf("testsLeftOut has %s, which the tests argument's +ignore does not: %q", p, patterns)
		}
	}
	for _, p := range patterns {
		// A negation is filtered one way at upload and another when the flag is given
		// (seen on v0.19.10: the copy kept .github/): test inputs come from testFiles.
		if strings.HasPrefix(p, "!") {
			t.Errorf("the tests argument's +ignore takes %s back: add it to testInputs instead", p)
		}
	}
	for _, f := range testInputs {
		if testInputUpload(f) == "" {
			t.Errorf("test input %s is in no upload testFiles takes inputs from (infra/, docs/runbook.md)", f)
		}
	}
}
