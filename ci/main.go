// The transaction-validator pipeline: every CI/CD stage of the repository as a function.
//
// The same calls run on a laptop, in GitHub Actions and in an air-gapped CI (with the
// offline engine of airgap/dagger): `dagger call ci` runs every check, `dagger call
// deploy --env staging ...` ships a version. Stages: lint, validate, scan, test, build,
// scan-image, sign, publish, plan, apply, deploy, rollback. Tool images and versions are pinned
// in ci/pins.
package main

import (
	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// TransactionValidator is the pipeline of the transaction-validator repository.
type TransactionValidator struct {
	// Source is the repository checkout the stages work on.
	// +private
	Source *dagger.Directory
	// Airgapped marks a run with no internet: stages that need it (vulnerability database
	// download, the checkov image) report "not run" with the reason instead of failing.
	// +private
	Airgapped bool
	// GoProxy is the Go module proxy the Go stages download from.
	// +private
	GoProxy string
}

// New configures the pipeline.
func New(
	// The repository checkout; by default the directory holding dagger.json.
	// Ignored: what tools write into a checkout (a change there would miss the engine's
	// cache), e.g. the lock files `tofu init` leaves in the modules; the roots' committed
	// lock files (infra/envs, infra/bootstrap) are inputs and stay.
	// +defaultPath="/"
	// +ignore=[".git", "**/.terraform", "infra/modules/**/.terraform.lock.hcl", "**/*.tfstate", "**/*.tfstate.*", "**/*.tfplan", "ci/dagger.gen.go", "ci/internal/dagger", "ci/internal/querybuilder", "ci/internal/telemetry", "out"]
	source *dagger.Directory,
	// Run without internet access (see airgap/): no vulnerability-database download, no
	// image that only exists online.
	// +optional
	airgapped bool,
	// Go module proxy (GOPROXY) for the Go stages.
	// +optional
	goProxy string,
) *TransactionValidator {
	if goProxy == "" {
		goProxy = pins.GoProxy
	}
	return &TransactionValidator{Source: source, Airgapped: airgapped, GoProxy: goProxy}
}
