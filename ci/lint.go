package main

import (
	"context"
	"fmt"

	"dagger/transaction-validator/pins"
)

// Lint checks the formatting and static rules of the Terraform, Go and workflow code.
//
// tofu fmt and tflint (AWS ruleset) on infra/, gofmt and go vet on every Go module (each
// go.mod in the source but the pipeline's own), actionlint on the GitHub workflows.
//
// +cache="never"
func (m *TransactionValidator) Lint(ctx context.Context) (string, error) {
	return runSteps(ctx,
		step{"tofu fmt", m.lintTofuFmt},
		step{"tflint", m.lintTflint},
		step{"gofmt + go vet", m.lintGo},
		step{"actionlint", m.lintWorkflows},
	)
}

func (m *TransactionValidator) lintTofuFmt(ctx context.Context) (string, error) {
	return sh(ctx, m.infraTool(pins.Tofu), "tofu fmt",
		`tofu fmt -check -recursive -diff infra || { echo "tofu fmt -check failed: run tofu fmt -recursive infra"; exit 1; }`)
}

func (m *TransactionValidator) lintTflint(ctx context.Context) (string, error) {
	// --recursive visits every module, environment root and the bootstrap root.
	return sh(ctx, m.infraTool(pins.Tflint), "tflint",
		`cd infra && tflint --recursive --config "$PWD/.tflint.hcl" --format compact`)
}

func (m *TransactionValidator) lintGo(ctx context.Context) (string, error) {
	mods, err := m.goModules(ctx)
	if err != nil {
		return "", err
	}
	script := `unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "not gofmt-ed (run gofmt -w):"; echo "$unformatted"; exit 1; fi
`
	for _, mod := range mods {
		// A module without packages of its own (a go.mod that pins what a build script
		// compiles) has nothing to vet, and go vet fails on "no packages to vet".
		script += "(cd " + mod + ` && if [ -n "$(go list -e ./... 2>/dev/null)" ]; then go vet ./...; else echo "` + mod + `: no Go packages"; fi)` + "\n"
	}
	return sh(ctx, m.goEnv(), "gofmt + go vet", script)
}

func (m *TransactionValidator) lintWorkflows(ctx context.Context) (string, error) {
	// Files named explicitly: without them actionlint looks for a .git directory, which
	// the source the pipeline receives does not have.
	workflows, err := m.Source.Glob(ctx, ".github/workflows/*.y*ml")
	if err != nil {
		return "", err
	}
	if len(workflows) == 0 {
		return "", fmt.Errorf("actionlint: no workflows under .github/workflows")
	}
	return run(ctx, m.tool(pins.Actionlint), "actionlint", append([]string{"actionlint", "-color=false"}, workflows...)...)
}
