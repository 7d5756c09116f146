// Package pins holds every tool version and image the pipeline uses, in one place.
//
// Images are referenced by the names their publishers use, so online the pipeline pulls
// the public images. Air-gapped, the Dagger engine's registry mirror (airgap/dagger)
// answers for the same names with images assembled from tools built from the Go module
// proxy: airgap/dagger/images.env must name exactly these images, which pins_test.go
// checks. An image that only exists online (checkov, a Python tool) carries its public
// digest; the pipeline reports its stage as not run when the image cannot be pulled.
package pins

const (
	// GoVersion is the Go toolchain of the golang image and of every module in the repo.
	GoVersion = "1.26.8"
	// DebianSuite is the Debian release of the base images and of the test servers.
	DebianSuite = "bookworm"
	// KubernetesVersion is the API version manifests are validated against.
	KubernetesVersion = "1.37.2"

	// Golang builds and tests the Go code (gcc included, for -race).
	Golang = "docker.io/library/golang:" + GoVersion + "-" + DebianSuite
	// Debian runs the test servers (PostgreSQL and Redis from Debian's packages).
	Debian = "docker.io/library/debian:" + DebianSuite
	// Static is the runtime base of the service images: CA bundle, tzdata, nonroot user,
	// no shell, no package manager.
	Static = "gcr.io/distroless/static-debian12:nonroot"

	// Tofu is OpenTofu (fmt, init, validate, plan, apply). Air-gapped, its image also
	// carries a filesystem mirror of the providers the roots require.
	Tofu = "ghcr.io/opentofu/opentofu:1.10.7"
	// Tflint lints Terraform with the AWS ruleset (TFLINT_PLUGIN_DIR in the image).
	Tflint = "ghcr.io/terraform-linters/tflint:v0.64.0"
	// TflintRulesetAWS is the AWS ruleset version in the tflint image.
	TflintRulesetAWS = "0.36.0"
	// Trivy scans IaC, manifests, the repository (secrets, dependencies) and images.
	Trivy = "docker.io/aquasec/trivy:0.68.2"
	// Kubeconform validates rendered manifests; air-gapped, its image carries the JSON
	// schemas (Kubernetes and the CRDs the manifests use) under /schemas.
	Kubeconform = "ghcr.io/yannh/kubeconform:v0.8.0"
	// Kustomize renders the overlays.
	Kustomize = "registry.k8s.io/kustomize/kustomize:v5.8.1"
	// Actionlint lints the GitHub Actions workflows.
	Actionlint = "docker.io/rhysd/actionlint:1.7.12"
	// Kubectl applies manifests and drives rollouts.
	Kubectl = "registry.k8s.io/kubectl:v" + KubernetesVersion
	// Cosign signs the images ci built and scanned, attaches their SBOM and scan result
	// as attestations, copies them to the target registry and verifies them before a
	// deploy (ci/sign.go). Built from github.com/sigstore/cosign/v2, binary on PATH.
	Cosign = "ghcr.io/sigstore/cosign/cosign:v2.6.1"
	// Gitleaks is the second secret scanner (ci/secrets.go), beside trivy's: over the source
	// tree and over the git history. The pipeline copies its static binary (GitleaksBinary)
	// into the golang image, whose git `gitleaks git` runs; air-gapped, the mirror's image
	// carries the same binary at the same path, built from github.com/zricethezav/gitleaks/v8.
	Gitleaks = "ghcr.io/gitleaks/gitleaks:v8.30.1"
	// GitleaksBinary is where the gitleaks image keeps its binary (upstream's Dockerfile
	// copies it to /usr/bin).
	GitleaksBinary = "/usr/bin/gitleaks"
	// Versitygw is the S3-compatible server the ETL job's tests write to; the test stage
	// takes its binary from VersitygwBinary in this image instead of compiling it.
	Versitygw = "docker.io/versity/versitygw:v1.8.0"
	// VersitygwBinary is where the versitygw image keeps its binary.
	VersitygwBinary = "/app/versitygw"
	// Prometheus carries promtool, which checks and unit-tests the alerting rules in the
	// test stage (at PromtoolBinary).
	Prometheus = "docker.io/prom/prometheus:v3.16.0"
	// PromtoolBinary is where the Prometheus image keeps promtool.
	PromtoolBinary = "/bin/promtool"
	// Checkov is the second IaC policy scanner. Python, so it cannot be built from the Go
	// module proxy: it runs online only. Digest as recorded by a public project that ran
	// this image as Checkov 3.3.8.
	Checkov = "docker.io/bridgecrew/checkov:3.3.8@sha256:c64ffb6d6fc8087c896341a2c697770a04a1cf558db04fa7b8129d8ca6bce336"

	// GoProxy is where Go modules come from; an air-gapped site points it at its own
	// proxy (Athens, Artifactory) with the pipeline's --goproxy.
	GoProxy = "https://proxy.golang.org,direct"
)
