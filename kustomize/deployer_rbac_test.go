package kustomize

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// groupResource is what an RBAC rule names: an API group and a resource.
type groupResource struct{ group, resource string }

// applied maps every namespaced kind an overlay renders to its API group and resource. A
// kind that is not here fails TestDeployerRBAC: a new kind in an overlay is a decision about
// what the deploy role may write, made here and in kustomize/deployer-rbac.
var applied = map[string]groupResource{
	"ConfigMap":               {"", "configmaps"},
	"Service":                 {"", "services"},
	"ServiceAccount":          {"", "serviceaccounts"},
	"Deployment":              {"apps", "deployments"},
	"DaemonSet":               {"apps", "daemonsets"},
	"HorizontalPodAutoscaler": {"autoscaling", "horizontalpodautoscalers"},
	"CronJob":                 {"batch", "cronjobs"},
	"Ingress":                 {"networking.k8s.io", "ingresses"},
	"NetworkPolicy":           {"networking.k8s.io", "networkpolicies"},
	"PodDisruptionBudget":     {"policy", "poddisruptionbudgets"},
	"ExternalSecret":          {"external-secrets.io", "externalsecrets"},
	"SecretStore":             {"external-secrets.io", "secretstores"},
	"PrometheusRule":          {"monitoring.coreos.com", "prometheusrules"},
	"ServiceMonitor":          {"monitoring.coreos.com", "servicemonitors"},
}

// adminApplied are the overlays' cluster-scoped kinds: no Role can grant them, and a
// deployer allowed to patch a Namespace (its Pod Security labels) or cluster RBAC could raise
// its own rights. The environment's cluster admin applies them (docs/pipeline.md).
var adminApplied = []string{"ClusterRole", "ClusterRoleBinding", "Namespace"}

// applyVerbs is what deploy needs per object: `kubectl apply --server-side` patch, create
// when the object does not exist yet (the API server authorizes that apply as a create),
// get (and the snapshot of the release); the revert of an aborted release (ci/release.go)
// update (back to the snapshot) and delete (an object new in the release).
var applyVerbs = []string{"create", "delete", "get", "patch", "update"}

// deploySteps is what ci/deploy.go runs besides applying, in the service's namespace:
// rollout status (get, list, watch deployments), removing the canary (delete, and list/watch
// with --wait), rollout undo (get and patch deployments, list replicasets), listing the canary
// pods, and the canary gate's Job (ci/canary.go: applied, polled, its log read, deleted).
var deploySteps = map[groupResource][]string{
	{"apps", "deployments"}: {"delete", "get", "list", "patch", "watch"},
	{"apps", "replicasets"}: {"list"},
	{"", "pods"}:            {"list"},
	{"", "pods/log"}:        {"get"},
	{"batch", "jobs"}:       {"create", "delete", "get", "list", "patch", "watch"},
}

const deployNamespace = "transaction-validator"

// grant is one verb on one resource in one namespace.
type grant struct {
	namespace string
	groupResource
	verb string
}

func (g grant) String() string {
	return g.namespace + ": " + g.verb + " " + g.resource + "." + g.group
}

// TestDeployerRBAC holds kustomize/deployer-rbac to exactly what deploy needs for every
// overlay: each grant it lacks would fail a deploy, each grant more is a right nobody uses.
func TestDeployerRBAC(t *testing.T) {
	want := map[grant]bool{}
	for gr, verbs := range deploySteps {
		for _, v := range verbs {
			want[grant{deployNamespace, gr, v}] = true
		}
	}
	// Directories only: overlays/ also holds the .gitignore of the rendered outputs.
	overlays, _ := filepath.Glob("overlays/*/kustomization.yaml")
	for i, k := range overlays {
		overlays[i] = filepath.Dir(k)
	}
	if len(overlays) == 0 {
		t.Fatal("no overlays")
	}
	for _, dir := range overlays {
		out, err := build(dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		for _, o := range objects(t, out) {
			if slices.Contains(adminApplied, o.Kind) {
				continue
			}
			gr, ok := applied[o.Kind]
			if !ok {
				t.Errorf("%s renders a %s (%s/%s): decide whether deploy may apply it (applied, kustomize/deployer-rbac) or the cluster admin does (adminApplied)", dir, o.Kind, o.Namespace, o.Name)
				continue
			}
			if o.Namespace == "" {
				t.Errorf("%s: %s %s has no namespace", dir, o.Kind, o.Name)
				continue
			}
			for _, v := range applyVerbs {
				want[grant{o.Namespace, gr, v}] = true
			}
		}
	}

	out, err := build("deployer-rbac")
	if err != nil {
		t.Fatalf("kustomize build deployer-rbac: %v", err)
	}
	got := deployerGrants(t, out, deployersGroup(t))
	for _, g := range sortedGrants(want) {
		if !got[g] {
			t.Errorf("deployer-rbac lacks %s, which deploy needs", g)
		}
	}
	for _, g := range sortedGrants(got) {
		if !want[g] {
			t.Errorf("deployer-rbac grants %s, which deploy never uses", g)
		}
	}
}

func objects(t *testing.T, all []byte) []object {
	t.Helper()
	var objs []object
	if err := eachObject(all, func(head object, _ []byte) error {
		objs = append(objs, head)
		return nil
	}); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return objs
}

// deployerGrants expands the Roles bound to group into single grants, and fails on anything
// in deployer-rbac that is not a Role or a RoleBinding of that group to its namespace's Role.
func deployerGrants(t *testing.T, all []byte, group string) map[grant]bool {
	t.Helper()
	roles := map[string]rbacv1.Role{} // by namespace
	bound := map[string]bool{}        // namespaces whose Role is bound to group
	for _, doc := range bytes.Split(all, []byte("\n---\n")) {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("decode: %v", err)
		}
		switch head.Kind {
		case "Role":
			var r rbacv1.Role
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				t.Fatalf("Role: %v", err)
			}
			if _, dup := roles[r.Namespace]; dup || r.Namespace == "" {
				t.Errorf("one Role per namespace, with a namespace: %s/%s", r.Namespace, r.Name)
			}
			roles[r.Namespace] = r
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := yaml.UnmarshalStrict(doc, &b); err != nil {
				t.Fatalf("RoleBinding: %v", err)
			}
			want := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}}
			if b.RoleRef.Kind != "Role" || !slices.Equal(b.Subjects, want) {
				t.Errorf("RoleBinding %s/%s must bind only the group %q to a Role: %+v %+v", b.Namespace, b.Name, group, b.RoleRef, b.Subjects)
				continue
			}
			bound[b.Namespace+"/"+b.RoleRef.Name] = true
		default:
			t.Errorf("deployer-rbac holds a %s: only namespaced Roles and RoleBindings belong there", head.Kind)
		}
	}
	grants := map[grant]bool{}
	for ns, r := range roles {
		if !bound[ns+"/"+r.Name] {
			t.Errorf("Role %s/%s is not bound to %q", ns, r.Name, group)
			continue
		}
		for _, rule := range r.Rules {
			if len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
				t.Errorf("Role %s: resourceNames/nonResourceURLs are not used by deploy: %+v", ns, rule)
			}
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, v := range rule.Verbs {
						if g == "*" || res == "*" || v == "*" {
							t.Errorf("Role %s: wildcard in %+v", ns, rule)
						}
						grants[grant{ns, groupResource{g, res}, v}] = true
					}
				}
			}
		}
	}
	return grants
}

// deployersGroup is the Kubernetes group Terraform puts the deploy roles' access entries in
// (infra/modules/ci-identities, deploy_kubernetes_group's default): the two must agree.
func deployersGroup(t *testing.T) string {
	t.Helper()
	tf, err := os.ReadFile("../infra/modules/ci-identities/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)variable "deploy_kubernetes_group" \{.*?default\s*=\s*"([^"]+)"`).FindSubmatch(tf)
	if m == nil {
		t.Fatal("infra/modules/ci-identities/variables.tf: no default for deploy_kubernetes_group")
	}
	return string(m[1])
}

func sortedGrants(m map[grant]bool) []grant {
	return slices.SortedFunc(maps.Keys(m), func(a, b grant) int { return strings.Compare(a.String(), b.String()) })
}
