package pins

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAirgapMirrorServesThePinnedImages sources airgap/versions.env and
// airgap/dagger/images.env the way the air-gap scripts do and checks that the offline
// registry is filled under exactly the names the pipeline pulls, and that each tool image's
// tag is the version the air-gap build compiles.
func TestAirgapMirrorServesThePinnedImages(t *testing.T) {
	images := map[string]string{
		"IMAGE_GOLANG": Golang, "IMAGE_DEBIAN": Debian, "IMAGE_STATIC": Static,
		"IMAGE_TOFU": Tofu, "IMAGE_TFLINT": Tflint, "IMAGE_TRIVY": Trivy,
		"IMAGE_KUBECONFORM": Kubeconform, "IMAGE_KUSTOMIZE": Kustomize,
		"IMAGE_ACTIONLINT": Actionlint, "IMAGE_KUBECTL": Kubectl,
		"IMAGE_VERSITYGW": Versitygw, "IMAGE_PROMETHEUS": Prometheus,
		"IMAGE_COSIGN": Cosign, "IMAGE_GITLEAKS": Gitleaks,
	}
	tagOf := map[string]string{ // versions.env variable -> the pinned image it builds
		"TOFU_VERSION": Tofu, "TFLINT_VERSION": Tflint, "TRIVY_VERSION": Trivy,
		"KUBECONFORM_VERSION": Kubeconform, "KUSTOMIZE_VERSION": Kustomize,
		"ACTIONLINT_VERSION": Actionlint, "KUBERNETES_VERSION": Kubectl,
		"VERSITYGW_VERSION": Versitygw, "PROMETHEUS_VERSION": Prometheus,
		"COSIGN_VERSION": Cosign, "GITLEAKS_VERSION": Gitleaks,
	}
	exact := map[string]string{
		"TFLINT_RULESET_AWS_VERSION": "v" + TflintRulesetAWS, "DEBIAN_SUITE": DebianSuite,
		"KUBERNETES_VERSION": "v" + KubernetesVersion,
	}
	env := sourceAirgapPins(t)
	for k, want := range images {
		if env[k] != want {
			t.Errorf("%s: airgap/dagger/images.env has %q, ci/pins has %q", k, env[k], want)
		}
	}
	for k, image := range tagOf {
		_, tag, _ := strings.Cut(strings.TrimPrefix(image, strings.SplitN(image, "/", 2)[0]), ":")
		if strings.TrimPrefix(env[k], "v") != strings.TrimPrefix(tag, "v") {
			t.Errorf("%s=%s in airgap/versions.env, but the pipeline pulls %s", k, env[k], image)
		}
	}
	for k, want := range exact {
		if env[k] != want {
			t.Errorf("%s: airgap/versions.env has %q, ci/pins wants %q", k, env[k], want)
		}
	}
	// Prometheus's Go module versions are v0.3MM.P for release v3.MM.P: the image the test
	// stage takes promtool from must be the release the air-gap build compiles.
	var minor, patch int
	if _, err := fmt.Sscanf(env["PROMETHEUS_MODULE_VERSION"], "v0.3%02d.%d", &minor, &patch); err != nil {
		t.Errorf("PROMETHEUS_MODULE_VERSION=%q is not a v0.3MM.P module version: %v", env["PROMETHEUS_MODULE_VERSION"], err)
	} else if want := fmt.Sprintf("v3.%d.%d", minor, patch); env["PROMETHEUS_VERSION"] != want {
		t.Errorf("PROMETHEUS_VERSION=%s, but PROMETHEUS_MODULE_VERSION=%s is release %s",
			env["PROMETHEUS_VERSION"], env["PROMETHEUS_MODULE_VERSION"], want)
	}
	if !strings.Contains(Checkov, "@sha256:") || len(Checkov[strings.Index(Checkov, "@sha256:")+8:]) != 64 {
		t.Errorf("Checkov is not pinned by a full sha256 digest: %s", Checkov)
	}
}

// sourceAirgapPins returns every variable the two air-gap pin files define.
func sourceAirgapPins(t *testing.T) map[string]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("bash", "-c", "set -a; . airgap/versions.env; . airgap/dagger/images.env; env -0")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing the air-gap pin files: %v", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
