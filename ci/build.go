package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// workloads are the binaries shipped as images: name -> main package.
var workloads = map[string]string{
	"transaction-validator": "./svc/cmd/transaction-validator",
	"operator-console":      "./svc/cmd/operator-console",
	"fx-rates-etl":          "./svc/cmd/fx-rates-etl",
	// The live canary's gate, which deploy runs as a Job beside the canary (canary.go).
	"canary-check": "./svc/cmd/canary-check",
}

// checkVersion is the version ci stamps into the images it builds, smoke-runs and scans:
// one value, so the image build runs is the image scan-image scans (the same digest).
// These check builds are never pushed: the image that is released is built once by sign
// (with the commit as version), scanned there as that very container, signed and attested,
// and publish only copies that digest (ci/sign.go, docs/pipeline.md "Signed images").
const checkVersion = "dev"

// workloadNames returns the image names in a stable order.
func workloadNames() []string {
	names := make([]string, 0, len(workloads))
	for n := range workloads {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func checkWorkload(name string) (string, error) {
	pkg, ok := workloads[name]
	if !ok {
		return "", fmt.Errorf("unknown image %q (want one of %s)", name, strings.Join(workloadNames(), ", "))
	}
	return pkg, nil
}

// Binary compiles one workload as a static, stripped, reproducible Linux binary.
func (m *TransactionValidator) Binary(
	// Which workload: transaction-validator, operator-console or fx-rates-etl.
	// +default="transaction-validator"
	name string,
	// Version stamped into the binary (main.version) and the image labels.
	// +default="dev"
	version string,
) (*dagger.File, error) {
	c, err := m.binaryBuild(name, version)
	if err != nil {
		return nil, err
	}
	return c.File("/out/" + name), nil
}

// binaryBuild is the container whose last step compiled the workload into /out/<name>,
// from the checkout's go.mod, go.sum and svc/ as uploaded on their own (New): a change
// elsewhere (docs, manifests, infra/, the pipeline) is the same step, which the engine
// answers from its cache, so the binaries, SBOMs and image digests stay the same and
// scan-image's scans are cached too. The step is stamped (sh), so build can say so.
func (m *TransactionValidator) binaryBuild(name, version string) (*dagger.Container, error) {
	pkg, err := checkWorkload(name)
	if err != nil {
		return nil, err
	}
	return m.goToolchain(dag.Container().From(pins.Golang)).
		WithMountedDirectory("/src", m.Svc).
		WithWorkdir("/src").
		WithEnvVariable("CGO_ENABLED", "0").
		WithExec([]string{"sh", "-ec", stamped(`go build -trimpath -ldflags "-s -w -X main.version=$1" -o "/out/$2" "$3"`),
			"sh", version, name, pkg}), nil
}

// Image builds one workload's image with its SBOM inside.
//
// The static binary on the distroless-style base, running as the nonroot user (65532),
// with OCI labels and its CycloneDX SBOM at /usr/share/sbom/<name>.cdx.json.
func (m *TransactionValidator) Image(
	ctx context.Context,
	// Which workload: transaction-validator, operator-console or fx-rates-etl.
	// +default="transaction-validator"
	name string,
	// Version for the binary and the org.opencontainers.image.version label.
	// +default="dev"
	version string,
	// Commit the image is built from (org.opencontainers.image.revision).
	// +optional
	revision string,
) (*dagger.Container, error) {
	bin, err := m.Binary(name, version)
	if err != nil {
		return nil, err
	}
	path := "/usr/local/bin/" + name
	image := dag.Container().From(pins.Static).
		WithFile(path, bin, dagger.ContainerWithFileOpts{Permissions: 0o555}).
		WithFile("/usr/share/sbom/"+name+".cdx.json", m.sbom(name, bin)).
		WithUser("65532:65532").
		WithEntrypoint([]string{path}).
		WithLabel("org.opencontainers.image.title", name).
		WithLabel("org.opencontainers.image.version", version).
		WithLabel("org.opencontainers.image.source", "https://github.com/transaction-validator/transaction-validator").
		WithLabel("org.opencontainers.image.licenses", "Apache-2.0").
		WithLabel("org.opencontainers.image.base.name", pins.Static)
	if revision != "" {
		image = image.WithLabel("org.opencontainers.image.revision", revision)
	}
	if name == "transaction-validator" {
		image = image.WithDefaultArgs([]string{"serve"}).WithExposedPort(8080).WithExposedPort(9090)
	}
	return image, nil
}

// sbom lists the Go modules compiled into bin (read from its build information by trivy)
// as a CycloneDX document. No vulnerability database is needed to make it.
func (m *TransactionValidator) sbom(name string, bin *dagger.File) *dagger.File {
	// Only the binary as input: the SBOM carries a timestamp, so re-making it for an
	// unrelated change would change the image digest.
	return dag.Container().From(pins.Trivy).
		WithUser("0").
		WithEnvVariable("TRIVY_CACHE_DIR", "/tmp/trivy").
		WithFile("/scan/usr/local/bin/"+name, bin).
		WithExec([]string{"trivy", "rootfs", "--skip-db-update", "--format", "cyclonedx",
			"--output", "/sbom.cdx.json", "/scan"}).
		File("/sbom.cdx.json")
}

// Sbom returns the CycloneDX SBOM of one workload's binary.
func (m *TransactionValidator) Sbom(
	// Which workload: transaction-validator, operator-console or fx-rates-etl.
	// +default="transaction-validator"
	name string,
) (*dagger.File, error) {
	bin, err := m.Binary(name, "dev")
	if err != nil {
		return nil, err
	}
	return m.sbom(name, bin), nil
}

// Build builds every workload's image and checks that each one runs.
//
// Each image's entrypoint runs once and must give its expected exit status and output:
// the validator's version command exits 0 printing the stamped version; the console and
// the ETL job, run without configuration, exit with their own configuration error (1 and
// 3).
func (m *TransactionValidator) Build(
	ctx context.Context,
	// Version stamped into the binaries and the image labels.
	// +default="dev"
	version string,
	// Commit the images are built from (org.opencontainers.image.revision).
	// +optional
	revision string,
) (string, error) {
	var steps []step
	for _, name := range workloadNames() {
		steps = append(steps, step{name, func(ctx context.Context) (string, error) {
			image, err := m.Image(ctx, name, version, revision)
			if err != nil {
				return "", err
			}
			if _, err := image.Sync(ctx); err != nil {
				return "", err
			}
			smoked, err := m.smokeImage(ctx, name, version, image)
			if err != nil {
				return "", err
			}
			// The compile step's output: empty, but for a CACHED line when the engine had it.
			c, err := m.binaryBuild(name, version)
			if err != nil {
				return "", err
			}
			built, err := output(ctx, c, "go build "+name)
			if err != nil {
				return "", err
			}
			return smoked + "\n" + built, nil
		}})
	}
	return runSteps(ctx, steps...)
}

// smoke is what one image must do when its entrypoint runs once with args and no
// configuration: exit with status exit and print a line matching output. It proves the
// binary starts on the base image (a missing library, a wrong architecture or an
// entrypoint typo gives 126, 127 or a crash instead) and that it reached its own code.
type smoke struct {
	args   []string
	exit   int
	output *regexp.Regexp
}

// smokes are the workloads' smoke runs. The validator has a version command, which must
// exit 0 and print exactly the version stamped at build time. The console and the ETL job
// have no command that exits 0 without their configuration: run without it, they must
// refuse to start through their main's configuration error path, never with a crash (a Go
// panic exits 2). The console exits 1 naming what is missing; the ETL job exits 3
// (fxrates.ExitConfig, which its CronJob's podFailurePolicy does not retry).
// TestSmokesMatchTheRealBinaries builds the three binaries and holds them to these.
func smokes(version string) map[string]smoke {
	return map[string]smoke{
		"transaction-validator": {args: []string{"version"}, exit: 0, output: regexp.MustCompile(`^` + regexp.QuoteMeta(version) + `$`)},
		"operator-console":      {exit: 1, output: regexp.MustCompile(`^operator-console: console: configuration: missing [A-Z_]+`)},
		"fx-rates-etl":          {exit: 3, output: regexp.MustCompile(`^fx-rates-etl: configuration: [A-Z0-9_]+ is required`)},
		// Live-traffic mode with no page to judge: refused at once, sending nothing.
		"canary-check": {args: []string{"-requests", "0"}, exit: 2, output: regexp.MustCompile(`^canary-check: -requests 0 needs at least one -metrics-file$`)},
	}
}

// check judges one smoke run from its exit status and combined output.
func (s smoke) check(exit int, out string) error {
	if exit != s.exit {
		return fmt.Errorf("exit status %d, want %d:\n%s", exit, s.exit, tail(out, 20))
	}
	for _, line := range strings.Split(out, "\n") {
		if s.output.MatchString(line) {
			return nil
		}
	}
	return fmt.Errorf("exit status %d as expected, but no line matches %s:\n%s", exit, s.output, tail(out, 20))
}

// smokeImage runs the image's entrypoint once and checks its exit status and output: a
// missing library, a wrong architecture or an entrypoint typo fails here, not in the
// cluster.
func (m *TransactionValidator) smokeImage(ctx context.Context, name, version string, image *dagger.Container) (string, error) {
	s, ok := smokes(version)[name]
	if !ok {
		return "", fmt.Errorf("%s: no smoke run defined", name)
	}
	// ANY: a non-zero exit is judged by check, with the output, instead of being an error
	// of the engine that carries neither the expectation nor the verdict.
	done := image.WithExec(s.args, dagger.ContainerWithExecOpts{UseEntrypoint: true, Expect: dagger.ReturnTypeAny})
	exit, err := done.ExitCode(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: running the image: %w", name, err)
	}
	out, err := done.CombinedOutput(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: running the image: %w", name, err)
	}
	if err := s.check(exit, out); err != nil {
		return "", fmt.Errorf("%s: smoke run %q: %w", name, s.args, err)
	}
	return fmt.Sprintf("%s: image runs: exit %d, %s", name, exit, tail(out, 1)), nil
}

// ImageTarball exports one workload's image as an OCI tarball (what scan-image scans).
func (m *TransactionValidator) ImageTarball(
	ctx context.Context,
	// Which workload: transaction-validator, operator-console or fx-rates-etl.
	// +default="transaction-validator"
	name string,
	// Version stamped into the binary and the image labels.
	// +default="dev"
	version string,
) (*dagger.File, error) {
	image, err := m.Image(ctx, name, version, "")
	if err != nil {
		return nil, err
	}
	return image.AsTarball(), nil
}

// ScanImage scans one workload's image with trivy and fails on HIGH/CRITICAL findings.
//
// Secrets and misconfiguration always, OS and Go-module vulnerabilities when the
// vulnerability database is reachable.
func (m *TransactionValidator) ScanImage(
	ctx context.Context,
	// Which workload: transaction-validator, operator-console or fx-rates-etl.
	// +default="transaction-validator"
	name string,
) (string, error) {
	reports, err := m.imageReports(ctx, name)
	if err != nil {
		return "", err
	}
	out, err := gate(ctx, reports, "image "+name)
	if err == nil && m.Airgapped {
		return out, notRun("vulnerabilities (no vulnerability database offline); secrets and misconfiguration: no HIGH/CRITICAL findings")
	}
	return out, err
}

// imageReports scans one workload's check image (ci's) and returns trivy's JSON report and
// its SARIF copy, whatever they found.
func (m *TransactionValidator) imageReports(ctx context.Context, name string) (*dagger.Directory, error) {
	tarball, err := m.ImageTarball(ctx, name, checkVersion)
	if err != nil {
		return nil, err
	}
	return m.imageReportsOf(name, tarball, imageScanners(m.Airgapped)), nil
}

// imageScanners are trivy's scanners for images: no vulnerability scan offline, where
// there is no vulnerability database.
func imageScanners(airgapped bool) string {
	if airgapped {
		return "secret,misconfig"
	}
	return "vuln,secret,misconfig"
}

// imageReportsOf scans an image tarball with scanners (comma-separated) into the reports
// directory of imageScanScript.
func (m *TransactionValidator) imageReportsOf(name string, tarball *dagger.File, scanners string) *dagger.Directory {
	return m.trivy().WithFile("/image.tar", tarball).
		WithExec([]string{"sh", "-ec", imageScanScript(name, scanners)}).
		Directory("/reports")
}

// imageScanScript scans /image.tar with trivy's scanners (comma-separated) into
// /reports/image-<name>.json and its SARIF copy; secrets with the repository's secret
// configuration.
func imageScanScript(name, scanners string) string {
	report := "/reports/image-" + name
	return "mkdir -p /reports && trivy image --input /image.tar --scanners " + scanners + " " + secretConfigFlag +
		" --exit-code 0 --format json --output " + report + ".json\n" +
		"trivy convert --format sarif --output " + report + ".sarif " + report + ".json\n"
}
