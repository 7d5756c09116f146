package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"dagger/transaction-validator/pins"
)

// tofuCheck runs `tofu init` (from the tofu image's provider mirror, no backend),
// `tofu validate` and `tofu test` (mock_provider "aws") in every Terraform module, the
// environments' root and the bootstrap root. The list comes from the tree: a module added
// under infra/modules is checked without an edit here. The environments' root is tested
// once per environment, tests/<env>.tftest.hcl with <env>.tfvars; a test file without its
// var file, or a var file without its test file, fails the step.
func (m *TransactionValidator) tofuCheck(ctx context.Context) (string, error) {
	modules, err := m.Infra.Directory("infra/modules").Entries(ctx)
	if err != nil {
		return "", fmt.Errorf("listing infra/modules: %w", err)
	}
	rootFiles, err := m.Source.Directory(infraRoot).Entries(ctx)
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", infraRoot, err)
	}
	testFiles, err := m.Source.Directory(infraRoot + "/tests").Entries(ctx)
	if err != nil {
		return "", fmt.Errorf("listing %s/tests: %w", infraRoot, err)
	}
	envs, err := envRootTests(rootFiles, testFiles)
	if err != nil {
		return "", err
	}
	var roots []string
	for _, e := range modules {
		if strings.HasSuffix(e, "/") {
			roots = append(roots, "infra/modules/"+strings.TrimSuffix(e, "/"))
		}
	}
	sort.Strings(roots)
	roots = append(roots, infraRoot, "infra/bootstrap")
	for _, r := range roots {
		if !modulePath.MatchString(r) {
			return "", fmt.Errorf("terraform directory %q: only letters, digits and ._/- are allowed", r)
		}
	}
	return sh(ctx, m.infraTool(pins.Tofu), "tofu init + validate + test", tofuCheckScript(roots, envs))
}

// envRootTests pairs the environments' var files (<env>.tfvars among rootFiles, the
// entries of infraRoot) with their test files (<env>.tftest.hcl among testFiles, those of
// its tests/), and fails naming every one without its partner.
func envRootTests(rootFiles, testFiles []string) ([]string, error) {
	vars, tests := map[string]bool{}, map[string]bool{}
	for _, f := range rootFiles {
		if env, ok := strings.CutSuffix(f, ".tfvars"); ok {
			vars[env] = true
		}
	}
	for _, f := range testFiles {
		if env, ok := strings.CutSuffix(f, ".tftest.hcl"); ok {
			tests[env] = true
		}
	}
	var envs, problems []string
	for env := range vars {
		if !tests[env] {
			problems = append(problems, fmt.Sprintf("%s/%s.tfvars has no tests/%s.tftest.hcl", infraRoot, env, env))
		} else {
			envs = append(envs, env)
		}
	}
	for env := range tests {
		if !vars[env] {
			problems = append(problems, fmt.Sprintf("%s/tests/%s.tftest.hcl has no %s.tfvars", infraRoot, env, env))
		}
	}
	sort.Strings(envs)
	sort.Strings(problems)
	if len(problems) > 0 {
		return nil, fmt.Errorf("tofu test: every environment needs a var file and a test file:\n  %s", strings.Join(problems, "\n  "))
	}
	for _, env := range envs {
		if !modulePath.MatchString(env) || strings.Contains(env, "/") {
			return nil, fmt.Errorf("environment %q: only letters, digits and ._- are allowed", env)
		}
	}
	return envs, nil
}

// tofuCheckScript is the shell of tofuCheck for the given directories (infraRoot among
// them is tested once per environment of envs). It checks every directory, then fails
// naming each one that failed and at which command. A directory without tests is said,
// as a NOTE in ci's summary.
func tofuCheckScript(roots, envs []string) string {
	var b strings.Builder
	// One provider copy for all directories instead of one per .terraform.
	b.WriteString(`export TF_IN_AUTOMATION=1 TF_PLUGIN_CACHE_DIR=/tmp/tofu-plugins
mkdir -p "$TF_PLUGIN_CACHE_DIR"
failed=""
fail() { failed="$failed
  $1"; }
`)
	for _, dir := range roots {
		fmt.Fprintf(&b, `echo "--- %[1]s"
if ! tofu -chdir=%[1]s init -backend=false -input=false -no-color >/tmp/init.log 2>&1; then
  cat /tmp/init.log; fail "%[1]s (init)"
elif grep -qs configuration_aliases %[1]s/*.tf; then
  # A module that takes an aliased provider from its caller (e.g. aws.dr) cannot be
  # validated alone: tofu validate reports the alias missing. Its tests configure every
  # alias with a mock_provider, and tofu test validates the configuration before any run,
  # so such a module must have tests.
  if [ -z "$(ls %[1]s/tests/*.tftest.hcl 2>/dev/null)" ]; then
    fail "%[1]s (provider aliases and no tests)"
  else
    echo "%[1]s takes provider aliases: validated by tofu test"
    tofu -chdir=%[1]s test -no-color || fail "%[1]s (test)"
  fi
elif ! tofu -chdir=%[1]s validate -no-color; then
  fail "%[1]s (validate)"
`, dir)
		if dir == infraRoot {
			b.WriteString("else\n")
			for _, env := range envs {
				fmt.Fprintf(&b, `  echo "-- %[1]s with %[2]s.tfvars"
  tofu -chdir=%[1]s test -no-color -var-file=%[2]s.tfvars -filter=tests/%[2]s.tftest.hcl || fail "%[1]s (%[2]s test)"
`, dir, env)
			}
			b.WriteString("fi\n")
			continue
		}
		fmt.Fprintf(&b, `elif [ -n "$(ls %[1]s/tests/*.tftest.hcl 2>/dev/null)" ]; then
  tofu -chdir=%[1]s test -no-color || fail "%[1]s (test)"
else
  echo "NOTE no tofu tests in %[1]s"
fi
`, dir)
	}
	// The list goes to stderr: a failed step's report is the end of stdout followed by
	// stderr (run in exec.go), where tofu's own errors are, and a defect in a module that
	// many roots use repeats its error once per root, enough to push a list on stdout out
	// of the report's last 80 lines (seen with the kms seed of suite 50).
	fmt.Fprintf(&b, `if [ -n "$failed" ]; then
  printf 'tofu FAILED in:%%s\n' "$failed" >&2; exit 1
fi
echo "tofu init, validate and test passed in %d directories"
`, len(roots))
	return b.String()
}
