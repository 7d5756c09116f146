// The transaction-validator pipeline: every CI/CD stage of the repository as a function.
//
// The same calls run on a laptop, in GitHub Actions and in an air-gapped CI (with the
// offline engine of airgap/dagger): `dagger call ci` runs every check, `dagger call
// deploy --env staging ...` ships a version. Stages: lint, validate, scan, test, build,
// scan-image, sign, publish, plan, apply, deploy, rollback. Tool images and versions are pinned
// in ci/pins.
package main

import (
	"context"
	"fmt"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// TransactionValidator is the pipeline of the transaction-validator repository.
type TransactionValidator struct {
	// Source is the repository checkout the stages work on.
	// +private
	Source *dagger.Directory
	// Infra holds Source's infra/ and nothing else, uploaded on its own (see New).
	// +private
	Infra *dagger.Directory
	// Svc holds Source's go.mod, go.sum and svc/ and nothing else, uploaded on its own.
	// +private
	Svc *dagger.Directory
	// Tests holds what the root module's Go tests read, uploaded on its own (see New), but
	// testInputs.
	// +private
	Tests *dagger.Directory
	// Runbook is Source's docs/runbook.md, uploaded on its own.
	// +private
	Runbook *dagger.File
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
	ctx context.Context,
	// The repository checkout; by default the directory holding dagger.json.
	// Ignored: what tools write into a checkout (a change there would miss the engine's
	// cache), e.g. the lock files `tofu init` leaves in the modules; the roots' committed
	// lock files (infra/envs, infra/bootstrap) are inputs and stay. With --source DIR,
	// give --infra DIR, --svc DIR, --tests DIR and --runbook DIR/docs/runbook.md too; better,
	// run dagger in DIR: only parts uploaded from the checkout dagger runs in are keyed by
	// their own content (docs/pipeline.md, "What a change re-runs").
	// +defaultPath="/"
	// +ignore=[".git", "**/.terraform", "infra/modules/**/.terraform.lock.hcl", "**/*.tfstate", "**/*.tfstate.*", "**/*.tfplan", "ci/dagger.gen.go", "ci/internal/dagger", "ci/internal/querybuilder", "ci/internal/telemetry", "out"]
	source *dagger.Directory,
	// The checkout again, filtered to infra/, for the steps that read nothing else (tofu
	// fmt, tflint, tofu validate and test). The engine keys a step by the whole upload its
	// input was cut from (dagger/dagger#10992), so infra/ cut from source would re-run
	// them on any change anywhere; uploaded apart, they re-run only when infra/ changes.
	// It must be the same checkout as source, which New checks.
	// +defaultPath="/"
	// +ignore=["*", "!infra", "**/.terraform", "infra/modules/**/.terraform.lock.hcl", "**/*.tfstate", "**/*.tfstate.*", "**/*.tfplan"]
	infra *dagger.Directory,
	// The checkout again, filtered to what the images are built from (go.mod, go.sum and
	// svc/), for the same reason: the binaries, SBOMs, image digests and image scans are
	// re-made only when these change. It must be the same checkout as source, which New
	// checks.
	// +defaultPath="/"
	// +ignore=["*", "!go.mod", "!go.sum", "!svc"]
	svc *dagger.Directory,
	// The checkout again, filtered to what the root module's Go tests read (the test
	// stage): all but infra/, docs/, .github/, the overlays, ci/ and dagger.json. The few
	// files there the tests read (testInputs, ci/test.go) come from --infra and --runbook.
	// The stage re-runs only when these change. It must be the same checkout as source,
	// which New checks.
	// +defaultPath="/"
	// +ignore=[".git", "**/.terraform", "**/*.tfstate", "**/*.tfstate.*", "**/*.tfplan", "out", "ci", "dagger.json", ".github", "kustomize/overlays", "infra", "docs"]
	tests *dagger.Directory,
	// The checkout's docs/runbook.md, uploaded on its own: the monitoring tests check every
	// alert's runbook link against it. It must be source's, which New checks.
	// +defaultPath="/docs/runbook.md"
	runbook *dagger.File,
	// Run without internet access (see airgap/): no vulnerability-database download, no
	// image that only exists online.
	// +optional
	airgapped bool,
	// Go module proxy (GOPROXY) for the Go stages.
	// +optional
	goProxy string,
) (*TransactionValidator, error) {
	if goProxy == "" {
		goProxy = pins.GoProxy
	}
	if err := sameFiles(ctx, "--infra", infra, source, []string{"infra"}, nil); err != nil {
		return nil, err
	}
	if err := sameFiles(ctx, "--svc", svc, source, []string{"svc"}, []string{"go.mod", "go.sum"}); err != nil {
		return nil, err
	}
	if err := sameTests(ctx, tests, source); err != nil {
		return nil, err
	}
	if err := sameContent(ctx, "--runbook", "docs/runbook.md", contentDigest(runbook), fileDigest(source, "docs/runbook.md")); err != nil {
		return nil, err
	}
	return &TransactionValidator{Source: source, Infra: infra, Svc: svc, Tests: tests, Runbook: runbook,
		Airgapped: airgapped, GoProxy: goProxy}, nil
}

// sameFiles fails unless view, an upload of part of the checkout (flag names it), holds
// the same dirs and files as source (sameContent).
func sameFiles(ctx context.Context, flag string, view, source *dagger.Directory, dirs, files []string) error {
	for _, d := range dirs {
		if err := sameContent(ctx, flag, d+"/", view.Directory(d).Digest, source.Directory(d).Digest); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := sameContent(ctx, flag, f, fileDigest(view, f), fileDigest(source, f)); err != nil {
			return err
		}
	}
	return nil
}

// digestFunc returns a directory's or a file's content digest.
type digestFunc func(context.Context) (string, error)

// fileDigest is the digest of the content of dir's file f (contentDigest).
func fileDigest(dir *dagger.Directory, f string) digestFunc {
	return contentDigest(dir.File(f))
}

// contentDigest is the digest of the content of f, without its metadata: the engine
// digests an uploaded file's metadata with another algorithm than a copied one's.
func contentDigest(f *dagger.File) digestFunc {
	return func(ctx context.Context) (string, error) {
		return f.Digest(ctx, dagger.FileDigestOpts{ExcludeMetadata: true})
	}
}

// sameContent fails unless what flag gave for what equals the same part of --source: their
// content digests, which the engine computes from the files, not from where they were
// uploaded from. Only parts of uploads compare: a directory cut by file operations has
// another digest than the same files uploaded (seen on v0.19.10). A --source given without
// the matching views is refused here, never checked against another tree's parts.
func sameContent(ctx context.Context, flag, what string, view, source digestFunc) error {
	dv, err := view(ctx)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", flag, what, err)
	}
	ds, err := source(ctx)
	if err != nil {
		return fmt.Errorf("--source: %s: %w", what, err)
	}
	if dv != ds {
		return fmt.Errorf("%s's %s differs from --source's (digests %s and %s): give the same checkout to "+
			"--source, --infra, --svc, --tests and --runbook, or run dagger in that checkout and give none of them", flag, what, dv, ds)
	}
	return nil
}
