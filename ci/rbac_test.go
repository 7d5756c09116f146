package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// releaseVerbs is what deploy does to each object it applies: get (the snapshot of the
// release, ci/release.go), create and patch (server-side apply: an object that does not
// exist yet is authorized as a create), update and delete (the revert of an aborted
// release: back to the snapshot, or away when the release added it).
var releaseVerbs = []string{"get", "create", "patch", "update", "delete"}

// policyRule is the part of an RBAC rule a Role in kustomize/deployer-rbac uses.
type policyRule struct {
	APIGroups []string `json:"apiGroups"`
	Resources []string `json:"resources"`
	Verbs     []string `json:"verbs"`
}

func (r policyRule) allows(group, resource, verb string) bool {
	match := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	return match(r.APIGroups, group) && match(r.Resources, resource) && match(r.Verbs, verb)
}

// deployerRules reads the Roles of kustomize/deployer-rbac, by namespace. Only Roles:
// anything cluster-wide there would be a ClusterRole, which the kustomize tests forbid.
func deployerRules(t *testing.T) map[string][]policyRule {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "kustomize", "deployer-rbac", "*.yaml"))
	rules := map[string][]policyRule{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range splitDocs(string(raw)) {
			var role struct {
				Kind     string
				Metadata struct{ Namespace string }
				Rules    []policyRule
			}
			if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if role.Kind == "Role" {
				rules[role.Metadata.Namespace] = append(rules[role.Metadata.Namespace], role.Rules...)
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("no Role in kustomize/deployer-rbac")
	}
	return rules
}

// resourceOf is the resource a kind is served as: lower case, plural. The same guess as
// apimachinery's UnsafeGuessKindToResource, right for every kind the overlays render.
func resourceOf(kind string) string {
	r := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(r, "s"):
		return r + "es"
	case strings.HasSuffix(r, "y"):
		return strings.TrimSuffix(r, "y") + "ies"
	}
	return r + "s"
}

// renderOverlay builds an overlay as deploy does, with the example Terraform outputs of
// kustomize/testdata rendered by kustomize/cmd/terraform-outputs into a copy of the
// manifests, and the kustomize binary of the offline toolchain
// (eval "$(airgap/manifest-tools.sh)" sets KUSTOMIZE).
func renderOverlay(t *testing.T, root, overlay string) string {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("kustomize"); err != nil {
			t.Fatal(`kustomize is needed to render the overlays: eval "$(airgap/manifest-tools.sh)" sets KUSTOMIZE`)
		}
	}
	doc, err := os.Open(filepath.Join("..", "kustomize", "testdata", "tofu-output", overlay+".json"))
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	var stderr bytes.Buffer
	gen := exec.Command("go", "run", "./cmd/terraform-outputs")
	gen.Dir, gen.Stdin, gen.Stderr = filepath.Join("..", "kustomize"), doc, &stderr
	outputs, err := gen.Output()
	if err != nil {
		t.Fatalf("terraform-outputs for %s: %v\n%s", overlay, err, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(root, "overlays", overlay, "terraform-outputs.yaml"), outputs, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	build := exec.Command(bin, "build", filepath.Join(root, "overlays", overlay))
	build.Stderr = &stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", overlay, err, stderr.String())
	}
	return string(out)
}

// copyManifests copies kustomize/{base,components,overlays} into root.
func copyManifests(t *testing.T, root string) {
	t.Helper()
	src := filepath.Join("..", "kustomize")
	for _, top := range []string{"base", "components", "overlays"} {
		err := filepath.WalkDir(filepath.Join(src, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(root, rel), 0o755)
			}
			if d.Name() == "terraform-outputs.yaml" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeployerRoleAllowsEverythingDeployWrites: every object deploy applies to staging and
// prod (the overlay, the canary, the stable Deployment), with every verb deploy and its
// revert use on it, is allowed by the deployer's Role in the object's namespace
// (kustomize/deployer-rbac), so a deploy under that identity is never refused halfway.
func TestDeployerRoleAllowsEverythingDeployWrites(t *testing.T) {
	rules := deployerRules(t)
	root := t.TempDir()
	copyManifests(t, root)
	for _, env := range []string{"staging", "prod"} {
		manifests := renderOverlay(t, root, env)
		rest, stable, err := splitDeployment(manifests)
		if err != nil {
			t.Fatal(err)
		}
		canary, err := canaryOf(stable)
		if err != nil {
			t.Fatal(err)
		}
		applied, _, err := deployedRest(env, rest)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := refsOf(strings.Join([]string{applied, canary, stable}, "\n---\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) < 10 {
			t.Fatalf("%s: only %d objects rendered", env, len(refs))
		}
		for _, r := range refs {
			group, _, found := strings.Cut(r.APIVersion, "/")
			if !found {
				group = ""
			}
			resource := resourceOf(r.Kind)
			for _, verb := range releaseVerbs {
				if !slices.ContainsFunc(rules[r.Namespace], func(p policyRule) bool { return p.allows(group, resource, verb) }) {
					t.Errorf("%s: deploy would %s %s (%s.%s), which no deployer Role allows", env, verb, r, resource, group)
				}
			}
		}
	}
}

func TestResourceOf(t *testing.T) {
	for kind, want := range map[string]string{"Ingress": "ingresses", "NetworkPolicy": "networkpolicies",
		"ConfigMap": "configmaps", "HorizontalPodAutoscaler": "horizontalpodautoscalers", "Namespace": "namespaces"} {
		if got := resourceOf(kind); got != want {
			t.Errorf("resourceOf(%s) = %s, want %s", kind, got, want)
		}
	}
}
