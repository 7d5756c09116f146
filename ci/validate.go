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
		script += m.renderScript(env, map[string]string{"transaction-validator": image}, "/out/"+env+".yaml")
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
// terraform-outputs.yaml (at outputsPath) and the images given (workload name -> reference
// by digest) set first. It edits a copy, never the source.
func (m *TransactionValidator) renderScript(env string, images map[string]string, out string) string {
	s := "rm -rf /tmp/render && cp -r /src/kustomize /tmp/render\n" +
		fmt.Sprintf("cp %s /tmp/render/overlays/%s/terraform-outputs.yaml\n", outputsPath(env), env)
	for _, name := range workloadNames() {
		if ref := images[name]; ref != "" {
			s += fmt.Sprintf("(cd /tmp/render/overlays/%s && kustomize edit set image your-registry/%s=%s)\n", env, name, ref)
		}
	}
	return s + fmt.Sprintf("kustomize build /tmp/render/overlays/%s > %s\n", env, out)
}

// Validate checks every rendered overlay against the schemas and the manifests' rules.
//
// kubeconform -strict against the Kubernetes and CRD schemas of the pinned Kubernetes
// version, and the Go tests of every module but the root (whose tests are the test
// stage): the manifests' rule tests (kustomize/*_test.go: security context, probes,
// spread, resources, the Fluent Bit PAN filter under LuaJIT, ...), the OTel collector's
// configuration loaded by the collector's own code (kustomize/otelcol), the schema
// converter, the offline AWS provider's trimmer and the registry tool.
func (m *TransactionValidator) Validate(ctx context.Context) (string, error) {
	return runSteps(ctx,
		step{"kubeconform", func(ctx context.Context) (string, error) {
			rendered, err := m.Render(ctx, "")
			if err != nil {
				return "", err
			}
			return m.kubeconform(ctx, rendered)
		}},
		step{"Go tests of the other modules", m.moduleTests},
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
