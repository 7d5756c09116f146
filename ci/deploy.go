package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

const (
	// namespace and deployment name the validator's objects in every overlay.
	namespace  = "transaction-validator"
	deployment = "transaction-validator"
	// canaryName is the Deployment that carries the new version next to the stable one.
	// Its pods carry the stable pods' labels plus track=canary, so the Service sends them
	// their share of traffic (one pod among the stable ones) while the stable
	// Deployment's ReplicaSets leave them alone (they are owned by the canary's).
	canaryName = deployment + "-canary"
	// fieldManager owns the fields the pipeline applies (server-side apply).
	fieldManager = "txv-pipeline"
)

// digestRef is an image reference by digest, the only form the pipeline deploys.
var digestRef = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$`)

// overlayFor maps an environment to its kustomize overlay. "local" is a throwaway
// cluster (airgap/k8s): dev's manifests, since it stands in for a developer's cluster.
func overlayFor(env string) (string, error) {
	switch env {
	case "dev", "staging", "prod":
		return env, nil
	case "local":
		return "dev", nil
	}
	return "", fmt.Errorf("unknown environment %q (want local, dev, staging or prod)", env)
}

// Deploy ships one version of the validator as a canary and rolls back if it is unhealthy.
//
// It promotes the version only when the canary is healthy:
//
//  1. the overlay is rendered with the environment's Terraform outputs (--outputs, the
//     JSON of `tofu output -json`, see the outputs function) and the image digests; a
//     missing output, a placeholder (account 000000000000, an all-zero id), an ARN of
//     another account, region or partition, or an image left unset stops the deploy
//     before anything is applied; every object of the release is read as it is (the
//     state an abort returns to, ci/release.go); then everything but the Deployment is
//     applied (server-side); on dev, staging and prod only namespaced objects, the
//     cluster-scoped ones being the cluster admin's (cluster-objects);
//  2. a canary Deployment (one pod, labelled track=canary, in the Service) runs the new
//     version; it must become Ready within the timeout;
//  3. its health is judged from its own metrics by canary-check (canary.go): on a cluster
//     whose pods run, a gate Job beside it drives bounded synthetic traffic through the
//     Service until the canary pods' /metrics count the minimum sample, and judges their
//     error ratio and p99, and their readiness before and after; on "local" with kwok's
//     fake nodes and no --gate-image, the same image run as a service against PostgreSQL
//     and Redis under synthetic traffic;
//  4. the stable Deployment is updated and rolls out pod by pod under its own surge and
//     availability limits, within the timeout;
//  5. the canary is removed;
//  6. the post-deploy checks (svc/internal/postdeploy) call the API as a client would
//     (on "local"; see postDeployCheck).
//
// A failure at any step from 1 on reverts the whole release: objects it added are
// deleted, objects it changed get their previous revision back, and the cluster's
// objects are as they were before the deploy.
//
// Before all of it, only what was scanned is deployed: every image must be signed by the
// --signed-by key and carry a passing scan attestation for its own digest (ci/sign.go,
// verifyImages); anything else is refused before any other step. Tested by
// TestDeployVerifiesBeforeTouchingTheCluster, and end to end by suite 52
// (scripts/staged/52-image-signing.sh, run by hand until it fits CI).
//
// Returns the log of the steps; an error says which step failed and what was rolled back.
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Deploy(
	ctx context.Context,
	// Target: local (throwaway cluster), dev, staging or prod.
	env string,
	// Image to deploy, by digest: REGISTRY/REPOSITORY@sha256:... (from publish).
	image string,
	// The operator console's image, by digest, released with this version (it is
	// applied with the rest of the overlay; its own Deployment rolls it out).
	// +optional
	consoleImage string,
	// The FX-rates ETL job's image, by digest (its CronJob's next run uses it).
	// +optional
	etlImage string,
	// The public key every image must be signed with, with a passing scan attestation
	// (cosign.pub; ci/sign.go). Unsigned, tampered or unscanned images are refused.
	// +optional
	signedBy *dagger.File,
	// Registry user name and password (a secret) to read the images' signatures.
	// +optional
	registryUsername string,
	// +optional
	registryPassword *dagger.Secret,
	// The registry when only the caller's machine reaches it, e.g. tcp://127.0.0.1:5055.
	// +optional
	registry *dagger.Service,
	// Kubeconfig of the target cluster (self-contained: certificates inline), as a secret.
	kubeconfig *dagger.Secret,
	// The environment's Terraform outputs: the JSON `tofu -chdir=infra/envs output -json`
	// prints on its state (dagger call outputs). Required but for "local", whose own are
	// airgap/k8s/tofu-outputs.json.
	// +optional
	outputs *dagger.File,
	// The AWS account id of the environment; when given, every ARN in the outputs must be
	// in it (without it they must agree on one account).
	// +optional
	awsAccount string,
	// The cluster's API server when only the caller's machine reaches it, e.g.
	// tcp://127.0.0.1:26443 for the throwaway cluster; its certificate must name
	// "kubernetes", which is the name the pipeline reaches it by.
	// +optional
	kubeApi *dagger.Service,
	// How long the canary and then the rollout may take to become ready.
	// +default="3m"
	timeout string,
	// How long the live gate may send synthetic traffic to get its sample.
	// +default="2m"
	soak string,
	// Most synthetic transactions the canary gate sends (through the Service on a live
	// cluster, where the canary gets only its share; straight to it on kwok's "local").
	// +default=2000
	canaryRequests int,
	// Requests the canary's own metrics must count before the live gate judges them.
	// +default=100
	canaryMinRequests int,
	// The canary gate's image (publish --name=canary-check), by digest: the live gate runs
	// it as a Job beside the canary. Required but on "local" with kwok's fake nodes only,
	// which judge the image as a Dagger service instead.
	// +optional
	gateImage string,
	// Highest share of 5xx answers the canary may give.
	// +default="0.01"
	maxErrorRatio string,
	// Highest server-side p99 latency the canary may have (a Go duration).
	// +default="500ms"
	maxLatency string,
) (string, error) {
	overlay, err := overlayFor(env)
	if err != nil {
		return "", err
	}
	for _, ref := range []string{image, consoleImage, etlImage, gateImage} {
		if ref != "" && !digestRef.MatchString(ref) {
			return "", fmt.Errorf("image %q is not a reference by digest (REGISTRY/REPO@sha256:<64 hex>): a digest is the exact image publish pushed, a tag can move", ref)
		}
	}
	if _, err := m.verifyImages(ctx, []string{image, consoleImage, etlImage, gateImage}, signedBy, registryUsername, registryPassword, registry); err != nil {
		return "", err
	}
	rolloutTimeout, err := time.ParseDuration(timeout)
	if err != nil {
		return "", fmt.Errorf("timeout: %w", err)
	}
	soakTime, err := time.ParseDuration(soak)
	if err != nil {
		return "", fmt.Errorf("soak: %w", err)
	}
	thresholds := []string{"-max-error-ratio", maxErrorRatio, "-max-p99", maxLatency}

	// Everything that can refuse the deploy runs before the cluster is touched.
	doc, err := m.outputsFor(env, outputs)
	if err != nil {
		return "", err
	}
	tfOutputs, err := m.terraformOutputs(ctx, map[string]*dagger.File{overlay: doc}, awsAccount)
	if err != nil {
		return "", fmt.Errorf("deploy %s: %w", env, err)
	}
	manifests, err := m.renderEnv(overlay, tfOutputs, map[string]string{"transaction-validator": image,
		"operator-console": consoleImage, "fx-rates-etl": etlImage}).Contents(ctx)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", overlay, err)
	}
	if err := checkRendered(env, manifests); err != nil {
		return "", err
	}

	k, err := m.kube(ctx, kubeconfig, kubeApi)
	if err != nil {
		return "", err
	}
	var log strings.Builder
	logf := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	// Dagger drops a function's result when it returns an error: the log goes with it.
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("%w\n\ndeploy log:\n%s", err, log.String())
	}

	rest, stable, err := splitDeployment(manifests)
	if err != nil {
		return "", err
	}
	canary, err := canaryOf(stable)
	if err != nil {
		return "", err
	}
	previous, _ := k.run(ctx, "read current image", "-n", namespace, "get", "deployment", deployment,
		"-o", "jsonpath={.spec.template.spec.containers[0].image}", "--ignore-not-found")
	logf("current image: %s", orNone(previous))
	logf("new image:     %s", image)

	// The whole release is read before any of it is applied, and put back if it is
	// aborted at any step below (ci/release.go).
	rest, adminOnly, err := deployedRest(env, rest)
	if err != nil {
		return fail(err)
	}
	for _, r := range adminOnly {
		logf("not applied (cluster-scoped, the cluster admin's): %s", r)
	}
	rel, err := k.snapshot(ctx, strings.Join([]string{rest, canary, stable}, "\n---\n"))
	if err != nil {
		return fail(err)
	}
	abort := func(reason string) (string, error) {
		return fail(k.abortRelease(ctx, rel, logf, rolloutTimeout.String(), reason))
	}

	if _, err := k.apply(ctx, "apply config (all but the Deployment)", rest); err != nil {
		return abort("applying the overlay failed: " + err.Error())
	}
	logf("applied the overlay %s except the Deployment", overlay)

	// Canary.
	if _, err := k.apply(ctx, "apply canary", canary); err != nil {
		return abort("applying the canary failed: " + err.Error())
	}
	if out, err := k.run(ctx, "canary readiness", "-n", namespace, "rollout", "status", "deployment/"+canaryName,
		"--timeout="+rolloutTimeout.String()); err != nil {
		return abort("canary never became ready: " + lastLine(out, err))
	}
	logf("canary Ready")

	var verdict string
	if env == "local" && gateImage == "" {
		verdict, err = m.syntheticCanary(ctx, image, canaryRequests, thresholds)
	} else {
		verdict, err = m.liveCanary(ctx, k, gateImage, canaryRequests, canaryMinRequests, soakTime, thresholds, logf)
	}
	if err != nil {
		return abort("canary unhealthy: " + err.Error())
	}
	logf("canary healthy: %s", lastLine(verdict, nil))

	// Promotion: the stable Deployment rolls out under its own maxSurge/maxUnavailable.
	if _, err := k.apply(ctx, "promote", stable); err != nil {
		return abort("promotion failed: " + err.Error())
	}
	if out, err := k.run(ctx, "rollout", "-n", namespace, "rollout", "status", "deployment/"+deployment,
		"--timeout="+rolloutTimeout.String()); err != nil {
		return abort("rollout did not complete: " + lastLine(out, err))
	}
	logf("rolled out %s", image)
	if _, err := k.run(ctx, "remove canary", "-n", namespace, "delete", "deployment", canaryName, "--ignore-not-found"); err != nil {
		return fail(err)
	}
	logf("canary removed; %s serves %s", env, image)

	// Post-deploy checks, as a client would: a failure reverts the whole release.
	checked, err := m.postDeployCheck(ctx, env, image)
	if err != nil {
		return abort("post-deploy checks failed: " + err.Error())
	}
	logf("post-deploy checks: %s", lastLine(checked, nil))
	return log.String(), nil
}

// Rollback returns the validator to its previous revision and removes any canary.
//
// It runs kubectl rollout undo and waits for the rollout.
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Rollback(
	ctx context.Context,
	// Target: local (throwaway cluster), dev, staging or prod.
	env string,
	// Kubeconfig of the target cluster, as a secret.
	kubeconfig *dagger.Secret,
	// The cluster's API server when only the caller reaches it (see deploy).
	// +optional
	kubeApi *dagger.Service,
) (string, error) {
	if _, err := overlayFor(env); err != nil {
		return "", err
	}
	k, err := m.kube(ctx, kubeconfig, kubeApi)
	if err != nil {
		return "", err
	}
	var log strings.Builder
	out, err := m.rollback(ctx, k, &log)
	if err != nil {
		return "", fmt.Errorf("%w\n\nrollback log:\n%s", err, out)
	}
	return out, nil
}

func (m *TransactionValidator) rollback(ctx context.Context, k *kube, log *strings.Builder) (string, error) {
	// The canary first: it runs the version being backed out, whatever happens next.
	if _, err := k.run(ctx, "remove canary", "-n", namespace, "delete", "deployment", canaryName, "--ignore-not-found"); err != nil {
		return log.String(), err
	}
	if _, err := k.run(ctx, "rollout undo", "-n", namespace, "rollout", "undo", "deployment/"+deployment); err != nil {
		return log.String(), err
	}
	if _, err := k.run(ctx, "rollback status", "-n", namespace, "rollout", "status", "deployment/"+deployment, "--timeout=5m"); err != nil {
		return log.String(), err
	}
	image, _ := k.run(ctx, "read image", "-n", namespace, "get", "deployment", deployment,
		"-o", "jsonpath={.spec.template.spec.containers[0].image}")
	fmt.Fprintf(log, "rolled back: %s serves %s again\n", deployment, image)
	return log.String(), nil
}

// kube is kubectl pointed at one cluster.
type kube struct {
	c     *dagger.Container
	flags []string
}

// kube returns kubectl with the kubeconfig mounted from the secret. A cluster reached
// through the caller's machine is bound under the name "kubernetes".
func (m *TransactionValidator) kube(ctx context.Context, kubeconfig *dagger.Secret, api *dagger.Service) (*kube, error) {
	c := dag.Container().From(pins.Kubectl).
		WithUser("0").
		WithMountedSecret("/run/kube/config", kubeconfig, dagger.ContainerWithMountedSecretOpts{Owner: "0", Mode: 0o400}).
		WithEnvVariable("KUBECONFIG", "/run/kube/config")
	k := &kube{c: c}
	if api != nil {
		endpoint, err := api.Endpoint(ctx)
		if err != nil {
			return nil, fmt.Errorf("kube-api: %w", err)
		}
		_, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			return nil, fmt.Errorf("kube-api endpoint %q: %w", endpoint, err)
		}
		k.c = k.c.WithServiceBinding("kubernetes", api)
		k.flags = []string{"--server=https://kubernetes:" + port}
	}
	return k, nil
}

// run runs kubectl. Cluster state changes between calls, so nothing here may come from
// the engine's cache: every call carries a fresh nonce.
func (k *kube) run(ctx context.Context, step string, args ...string) (string, error) {
	c := k.c.WithEnvVariable("TXV_NONCE", nonce())
	out, err := run(ctx, c, step, append(append([]string{"kubectl"}, k.flags...), args...)...)
	return strings.TrimSpace(out), err
}

// apply applies manifests server-side, taking over fields from earlier managers.
func (k *kube) apply(ctx context.Context, step, manifests string) (string, error) {
	c := k.c.WithEnvVariable("TXV_NONCE", nonce()).WithNewFile("/run/manifests.yaml", manifests)
	return run(ctx, c, step, append(append([]string{"kubectl"}, k.flags...),
		"apply", "--server-side", "--force-conflicts", "--field-manager="+fieldManager, "-f", "/run/manifests.yaml")...)
}

// renderEnv renders one overlay with its terraform-outputs.yaml and the workloads'
// images set.
func (m *TransactionValidator) renderEnv(overlay string, tfOutputs *dagger.Directory, images map[string]string) *dagger.File {
	return m.tool(pins.Kustomize).
		WithMountedDirectory(outputsDir, tfOutputs).
		WithExec([]string{"sh", "-ec", m.renderScript(overlay, images, "/rendered.yaml")}).
		File("/rendered.yaml")
}

// splitDeployment separates the validator's Deployment from the rest of a rendered
// overlay.
func splitDeployment(manifests string) (rest, stable string, err error) {
	var others []string
	for _, doc := range strings.Split(manifests, "\n---\n") {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return "", "", fmt.Errorf("rendered manifests: %w", err)
		}
		if meta.Kind == "Deployment" && meta.Metadata.Name == deployment {
			stable = doc
			continue
		}
		if strings.TrimSpace(doc) != "" {
			others = append(others, doc)
		}
	}
	if stable == "" {
		return "", "", fmt.Errorf("rendered manifests have no Deployment %s", deployment)
	}
	return strings.Join(others, "\n---\n"), stable, nil
}

// canaryOf derives the canary Deployment from the stable one: same pod template (so the
// same Service, config and identity) plus track=canary, one replica.
func canaryOf(stable string) (string, error) {
	var d map[string]any
	if err := yaml.Unmarshal([]byte(stable), &d); err != nil {
		return "", err
	}
	meta, _ := d["metadata"].(map[string]any)
	spec, _ := d["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	matchLabels, _ := selector["matchLabels"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	tmeta, _ := template["metadata"].(map[string]any)
	if meta == nil || matchLabels == nil || tmeta == nil {
		return "", fmt.Errorf("deployment %s: no metadata, selector.matchLabels or template metadata", deployment)
	}
	labels, _ := tmeta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		tmeta["labels"] = labels
	}
	meta["name"] = canaryName
	matchLabels["track"] = "canary"
	labels["track"] = "canary"
	spec["replicas"] = 1
	out, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	y, err := yaml.JSONToYAML(out)
	return string(y), err
}

func nonce() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

func orNone(s string) string {
	if s == "" {
		return "(none: first deployment)"
	}
	return s
}

// lastLine is the last line of a command's output, or of its error.
func lastLine(out string, err error) string {
	if err != nil && strings.TrimSpace(out) == "" {
		out = err.Error()
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
