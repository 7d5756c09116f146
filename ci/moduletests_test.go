package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleTestScriptTestsEveryModuleAndEndsWithTheFailures runs the generated script with
// a fake go whose tests fail in one module: every other module is still tested, the root is
// not (the test stage's), nor a module without packages (go test fails on those), and the
// failing test's lines are the end of the output.
func TestModuleTestScriptTestsEveryModuleAndEndsWithTheFailures(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{"bin", "a", "b", "c", "d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake := `#!/bin/sh
if [ "$1" = list ]; then
  [ "$(basename "$PWD")" = d ] || echo "example.com/$(basename "$PWD")"
  exit 0
fi
echo "$(basename "$PWD")" >> "$CALLS"
if [ "$(basename "$PWD")" = b ]; then
  printf -- '--- FAIL: TestSeeded (0.00s)\n    b_test.go:9: boom\nFAIL\n'; exit 1
fi
for i in 1 2 3; do echo "ok   line $i of $(basename "$PWD")"; done
`
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-ec", moduleTestScript([]string{".", "a", "b", "c", "d"}))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+filepath.Join(dir, "calls"), "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the script passed with a failing module:\n%s", out)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if got := strings.Fields(string(calls)); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("go test ran in %v, want a, b, c (not the root, not d: no packages)", got)
	}
	for _, want := range []string{"d: no Go packages", "ok   line 3 of c", "b_test.go:9: boom"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.Join(lines[len(lines)-4:], "\n")
	for _, want := range []string{"go test FAILED in: b", "--- FAIL: TestSeeded", "b_test.go:9: boom"} {
		if !strings.Contains(last, want) {
			t.Errorf("the output does not end with %q:\n%s", want, out)
		}
	}
}
