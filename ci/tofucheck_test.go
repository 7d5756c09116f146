package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvRootTestsPairsVarAndTestFiles(t *testing.T) {
	envs, err := envRootTests(
		[]string{"dev.tfvars", "prod.tfvars", "main.tf", "dev.s3.tfbackend", "tests/"},
		[]string{"prod.tftest.hcl", "dev.tftest.hcl"})
	if err != nil || strings.Join(envs, ",") != "dev,prod" {
		t.Fatalf("envRootTests = %v, %v; want [dev prod]", envs, err)
	}
	_, err = envRootTests([]string{"dev.tfvars", "qa.tfvars"}, []string{"dev.tftest.hcl", "perf.tftest.hcl"})
	if err == nil {
		t.Fatal("envRootTests passed a var file without tests and a test file without vars")
	}
	for _, want := range []string{"qa.tfvars has no tests/qa.tftest.hcl", "tests/perf.tftest.hcl has no perf.tfvars"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestTofuCheckScriptRunsAndReportsEveryFailure runs the generated script with a fake tofu
// that fails validate in one directory and one environment's test: the script must go on
// to the other directories, name both failures, and exit non-zero; it must run each
// environment's test with its own var file and say where there are no tests.
func TestTofuCheckScriptRunsAndReportsEveryFailure(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := `#!/bin/sh
echo "tofu $*" >> "$CALLS"
case "$*" in
  *-chdir=infra/modules/b\ validate*) exit 1 ;;
  *-var-file=prod.tfvars*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "tofu"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"infra/modules/a/tests", "infra/modules/b/tests", "infra/modules/c", "infra/envs", "infra/bootstrap"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"infra/modules/a/tests/a.tftest.hcl", "infra/modules/b/tests/b.tftest.hcl"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := tofuCheckScript([]string{"infra/modules/a", "infra/modules/b", "infra/modules/c", "infra/envs", "infra/bootstrap"}, []string{"dev", "prod"})
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+filepath.Join(dir, "calls"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the script passed with two failures:\n%s", out)
	}
	for _, want := range []string{"infra/modules/b (validate)", "infra/envs (prod test)", "NOTE no tofu tests in infra/modules/c"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	for _, want := range []string{
		"-chdir=infra/modules/a test", "-chdir=infra/bootstrap validate",
		"-chdir=infra/envs test -no-color -var-file=dev.tfvars -filter=tests/dev.tftest.hcl",
	} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("tofu was not called with %q; calls:\n%s", want, calls)
		}
	}
	if strings.Contains(string(calls), "-chdir=infra/modules/b test") {
		t.Errorf("tests ran in a directory that failed validate")
	}
}
