package devserver_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	module       = "github.com/transaction-validator/transaction-validator"
	devserverPkg = module + "/svc/internal/testsupport/devserver"
)

// devTools are the commands under svc/cmd that are not shipped: they may import
// devserver. Every other command is a production binary.
var devTools = []string{module + "/svc/cmd/loadgen", module + "/svc/cmd/restore-drill"}

// shipped are the production binaries named in ci/ (images built by ci/build.go, and
// canary-check and postdeploy-check, which the deploy pipeline runs); the test fails if
// one of them is no longer found under svc/cmd, so the check cannot quietly cover less.
var shipped = []string{
	module + "/svc/cmd/transaction-validator",
	module + "/svc/cmd/operator-console",
	module + "/svc/cmd/fx-rates-etl",
	module + "/svc/cmd/canary-check",
	module + "/svc/cmd/postdeploy-check",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// TestNoProductionBinaryImportsDevserver: test support that starts database servers with
// trust authentication and self-signed certificates must never be linked into a binary
// that is shipped.
func TestNoProductionBinaryImportsDevserver(t *testing.T) {
	mains := goList(t, "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", module+"/svc/cmd/...")
	for _, want := range append(slices.Clone(shipped), devTools...) {
		if !slices.Contains(mains, want) {
			t.Errorf("%s is not a main package under svc/cmd any more: update this test", want)
		}
	}
	for _, m := range mains {
		if slices.Contains(devTools, m) {
			continue
		}
		for _, dep := range goList(t, "-deps", m) {
			if dep == devserverPkg || strings.HasPrefix(dep, devserverPkg+"/") {
				t.Errorf("production binary %s depends on %s", m, dep)
			}
		}
	}
}
