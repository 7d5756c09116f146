package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// overlays lists the kustomize overlays (one per environment).
func (m *TransactionValidator) overlays(ctx context.Context) ([]string, error) {
	entries, err := m.Source.Directory("kustomize/overlays").Entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing kustomize/overlays: %w", err)
	}
	var envs []string
	for _, e := range entries {
		if strings.HasSuffix(e, "/") {
			envs = append(envs, strings.TrimSuffix(e, "/"))
		}
	}
	sort.Strings(envs)
	if len(envs) == 0 {
		return nil, fmt.Errorf("no overlays under kustomize/overlays")
	}
	return envs, nil
}

// Render builds every kustomize overlay and returns the manifests as <env>.yaml files.
// With an image, the validator's image is set to it first (as deploy does). The overlays
// carry no Terraform values: each is rendered with its example outputs
// (kustomize/testdata/tofu-output/<env>.json, through the renderer deploy uses), which is
// what the schemas and scanners need; a deploy renders with the environment's own.
func (m *TransactionValidator) Render(
	ctx context.Context,
	// Image reference for the validator, by digest (registry/repo@sha256:...).
	// +optional
	image string,
) (*dagger.Directory, error) {
	envs, err := m.overlays(ctx)
	if err != nil {
		return nil, err
	}
	docs := map[string]*dagger.File{}
	script := "mkdir -p /out\n"
	for _, env := range envs {
		docs[env] = m.Source.File(exampleOutputs(env))
		script += m.renderScript(env, map[string]string{"transaction-validator": image}, "/out/"+env+".yaml", false)
	}
	outputs, err := m.terraformOutputs(ctx, docs, "")
	if err != nil {
		return nil, fmt.Errorf("example outputs: %w", err)
	}
	return m.tool(pins.Kustomize).
		WithMountedDirectory(outputsDir, outputs).
		WithExec([]string{"sh", "-ec", script}).
		Directory("/out"), nil
}

// outputsDir is where a render container holds the overlays' terraform-outputs.yaml
// files, as OVERLAY.yaml (terraformOutputs).
const outputsDir = "/run/terraform-outputs"

func outputsPath(overlay string) string { return outputsDir + "/" + overlay + ".yaml" }

// renderScript is the shell that renders one overlay into out, with its
// terraform-outputs.yaml (at outputsPath), with idp its operator-console-idp.yaml rendered
// from a deploy's IdP settings (at idpOutDir, ci/idp.go) in place of the committed
// example, and the images given (workload name -> reference by digest) set first. It
// edits a copy, never the source.
func (m *TransactionValidator) renderScript(env string, images map[string]string, out string, idp bool) string {
	s := "rm -rf /tmp/render && cp -r /src/kustomize /tmp/render\n" +
		fmt.Sprintf("cp %s /tmp/render/overlays/%s/terraform-outputs.yaml\n", outputsPath(env), env)
	if idp {
		s += fmt.Sprintf("cp %s/%s.yaml /tmp/render/overlays/%s/operator-console-idp.yaml\n", idpOutDir, env, env)
	}
	for _, name := range workloadNames() {
		if ref := images[name]; ref != "" {
			s += fmt.Sprintf("(cd /tmp/render/overlays/%s && kustomize edit set image your-registry/%s=%s)\n", env, name, ref)
		}
	}
	return s + fmt.Sprintf("kustomize build /tmp/render/overlays/%s > %s\n", env, out)
}

// Validate checks the manifests against the schemas and their rules, and the Terraform code with tofu.
//
// tofu init, validate and test in every module under infra/modules, the environments'
// root (once per environment with its var file) and the bootstrap root (tofuCheck);
// kubeconform -strict against the Kubernetes and CRD schemas of the pinned Kubernetes
// version, and the Go tests of every module but the root (whose tests are the test
// stage): the manifests' rule tests (kustomize/*_test.go: security context, probes,
// spread, resources, the Fluent Bit PAN filter under LuaJIT, ...), the OTel collector's
// configuration loaded by the collector's own code (kustomize/otelcol), the schema
// converter, the offline AWS provider's trimmer and the registry tool.
//
// +cache="never"
func (m *TransactionValidator) Validate(ctx context.Context) (string, error) {
	return runSteps(ctx,
		step{"kubeconform", func(ctx context.Context) (string, error) {
			rendered, err := m.Render(ctx, "")
			if err != nil {
				return "", err
			}
			return m.kubeconform(ctx, rendered)
		}},
		step{"kubeconform: deployer RBAC, strictness, bare overlays", m.manifestSelfChecks},
		step{"Go tests of the other modules", m.moduleTests},
		step{"tofu init + validate + test", m.tofuCheck},
	)
}

func (m *TransactionValidator) kubeconform(ctx context.Context, rendered *dagger.Directory) (string, error) {
	locations := []string{"-schema-location", "/schemas",
		"-schema-location", "/schemas/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"}
	if !m.Airgapped {
		// Online, images without the bundled schemas fall back to the public catalogues.
		locations = append(locations, "-schema-location", "default",
			"-schema-location", "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json")
	}
	args := append([]string{"kubeconform", "-strict", "-summary", "-output", "text",
		"-kubernetes-version", pins.KubernetesVersion}, locations...)
	c := dag.Container().From(pins.Kubeconform).WithMountedDirectory("/rendered", rendered).WithWorkdir("/rendered")
	envs, err := rendered.Entries(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range envs {
		args = append(args, e)
	}
	return run(ctx, c, "kubeconform", args...)
}

// manifestSelfChecks are the checks around kubeconform that show it and the overlays are
// what the stage assumes: the deploy role's RBAC (kustomize/deployer-rbac, applied by the
// cluster admin, not part of an overlay) passes kubeconform too; a rendered overlay with a
// misspelt field in a Deployment and in an ExternalSecret is rejected naming both (a
// schema directory that silently matched nothing, or non-strict schemas, would pass
// anything); and a committed overlay does not build without its terraform-outputs.yaml
// (it must carry no Terraform values of its own).
func (m *TransactionValidator) manifestSelfChecks(ctx context.Context) (string, error) {
	envs, err := m.overlays(ctx)
	if err != nil {
		return "", err
	}
	rendered, err := m.Render(ctx, "")
	if err != nil {
		return "", err
	}
	first := envs[0]
	out := m.tool(pins.Kustomize).
		WithMountedDirectory("/rendered", rendered).
		WithExec([]string{"sh", "-ec", `mkdir -p /out/rbac /out/misspelt
if kustomize build "kustomize/overlays/$1" >/dev/null 2>/tmp/bare.log; then
  echo "overlay $1 builds without terraform-outputs.yaml: it must not carry Terraform values"; exit 1
fi
grep -q terraform-outputs.yaml /tmp/bare.log || { cat /tmp/bare.log; echo "a bare build of $1 failed, but not on terraform-outputs.yaml"; exit 1; }
kustomize build kustomize/deployer-rbac > /out/rbac/deployer-rbac.yaml
sed -e 's/^  minReadySeconds:/  minReadySecond:/' -e 's/^  refreshInterval:/  refreshIntervall:/' \
  "/rendered/$1.yaml" > /out/misspelt/misspelt.yaml
grep -q minReadySecond: /out/misspelt/misspelt.yaml && grep -q refreshIntervall: /out/misspelt/misspelt.yaml ||
  { echo "the rendered $1 overlay has no minReadySeconds or refreshInterval to misspell"; exit 1; }`, "sh", first}).
		Directory("/out")
	if _, err := out.Sync(ctx); err != nil {
		return "", fmt.Errorf("bare overlay build and deployer RBAC: %w", err)
	}
	report, err := m.kubeconform(ctx, out.Directory("rbac"))
	if err != nil {
		return report, fmt.Errorf("kubeconform rejected kustomize/deployer-rbac: %w", err)
	}
	misspelt, err := m.kubeconform(ctx, out.Directory("misspelt"))
	if err == nil {
		return misspelt, fmt.Errorf("kubeconform accepted misspelt fields: the schemas are not strict or not loaded")
	}
	for _, field := range []string{"minReadySecond", "refreshIntervall"} {
		if !strings.Contains(misspelt, field) {
			return misspelt, fmt.Errorf("kubeconform rejected the misspelt copy but did not name %s:\n%s", field, tail(misspelt, 20))
		}
	}
	return report + "kubeconform rejects misspelt fields, as it must\n", nil
}
