package main

import (
	"context"
	"fmt"
	"regexp"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// docsPackages are the Debian packages the documentation checks run: Graphviz renders
// docs/*.dot (scripts/render-docs.sh; the same Debian release as the hosts' keeps the SVG
// byte-identical), git lets scripts/check-doc-refs.sh list the files as a checkout would.
const docsPackages = "graphviz git"

// terraformDocsModule is the Go module terraform-docs is built from (airgap/iac-tools.sh
// builds the same one, at TERRAFORM_DOCS_VERSION of airgap/versions.env, on a host).
const terraformDocsModule = "github.com/terraform-docs/terraform-docs"

// goVersion is a module version a shell script takes literally.
var goVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// Docs checks that the documentation kept as code is current and its references hold.
//
// The terraform-docs tables of every README under infra/ (scripts/iac-docs.sh regenerates
// them into a copy, which must not differ), and suite 05 (scripts/suites/05-docs.sh): the
// rendered diagrams match their sources, every runbook link resolves, every path and
// `dagger call` function a document names exists, and there is no go.work.
//
//	dagger call docs
//
// +cache="never"
func (m *TransactionValidator) Docs(ctx context.Context) (string, error) {
	return runSteps(ctx,
		step{"terraform-docs README tables", m.docsTerraform},
		step{"suite 05 (diagrams, runbook links, paths, functions)", m.docsSuite},
	)
}

// docsEnv is the golang image with docsPackages and the source at /src as a git checkout
// of itself (the pipeline receives it without .git).
func (m *TransactionValidator) docsEnv() *dagger.Container {
	return m.goEnvFrom(withDebianPackages(dag.Container().From(pins.Golang), docsPackages)).
		WithExec([]string{"sh", "-ec", `git config --global user.email ci@invalid && git config --global user.name ci
git config --global --add safe.directory '*'
[ -d .git ] || { git init -q && git add -A; }`})
}

func (m *TransactionValidator) docsSuite(ctx context.Context) (string, error) {
	return run(ctx, m.docsEnv(), "docs (suite 05)", "bash", "scripts/suites/05-docs.sh")
}

func (m *TransactionValidator) docsTerraform(ctx context.Context) (string, error) {
	versions, err := m.Source.File("airgap/versions.env").Contents(ctx)
	if err != nil {
		return "", err
	}
	env, err := pins.ParseEnv(versions)
	if err != nil {
		return "", fmt.Errorf("airgap/versions.env: %w", err)
	}
	version := env["TERRAFORM_DOCS_VERSION"]
	if !goVersion.MatchString(version) {
		return "", fmt.Errorf("airgap/versions.env: TERRAFORM_DOCS_VERSION=%q is not a module version", version)
	}
	// Built in a container of its own, without the source: the engine keeps the binary
	// until the version changes. From a copy of the module, as airgap/iac-tools.sh does:
	// `go install mod@version` refuses a module with replace directives.
	bin := m.goToolchain(dag.Container().From(pins.Golang)).WithWorkdir("/").
		WithExec([]string{"sh", "-ec", `dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$dir" ] || { echo "go mod download $1 failed" >&2; exit 1; }
cp -r "$dir" /tmp/td && chmod -R u+w /tmp/td && cd /tmp/td
go build -trimpath -ldflags "-s -w" -o /usr/local/bin/terraform-docs .`, "sh", terraformDocsModule + "@" + version}).
		File("/usr/local/bin/terraform-docs")
	c := m.goEnv().WithFile("/usr/local/bin/terraform-docs", bin, dagger.ContainerWithFileOpts{Permissions: 0o755})
	return sh(ctx, c, "terraform-docs", `rm -rf /tmp/infra && cp -r infra /tmp/infra
bash scripts/iac-docs.sh /tmp/infra
diff -ru -x '.terraform*' infra /tmp/infra || { echo "stale README tables above: run scripts/iac-docs.sh"; exit 1; }`)
}
