package kustomize

// components/database-iam: an overlay that lists it instead of components/database-password
// runs the validator and the console with IAM database logins. Built here as prod's overlay
// with that one line changed and prod's outputs in iam mode, and compared with prod itself.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/transaction-validator/transaction-validator/kustomize/tfoutputs"
)

const (
	passwordComponent = "../../components/database-password"
	iamComponent      = "../../components/database-iam"
	prodProxy         = "tv-prod.proxy-c1d2e3f4a5b6.eu-central-1.rds.amazonaws.com"
	validatorIAMURL   = "postgres://transaction_validator@" + prodProxy + ":5432/payments?sslmode=verify-full"
	consoleIAMURL     = "postgres://operator_console@" + prodProxy + ":5432/payments?sslmode=verify-full"
)

// prodOutputsInMode is outputsInMode for prod.
func prodOutputsInMode(t *testing.T, mode string) []byte { return outputsInMode(t, "prod", mode) }

// outputsInMode is testdata/tofu-output/ENV.json as infra prints it in mode, whatever mode
// the file itself is in: "password" sets the URL secrets' names and nulls the URLs, "iam"
// the other way round.
func outputsInMode(t *testing.T, env, mode string) []byte {
	t.Helper()
	var doc map[string]map[string]any
	if err := json.Unmarshal(fixture(t, env), &doc); err != nil {
		t.Fatal(err)
	}
	proxy := "tv-" + env + ".proxy-c1d2e3f4a5b6.eu-central-1.rds.amazonaws.com:5432/payments?sslmode=verify-full"
	values := map[string]any{
		"database_url_secret_name":                  "transaction-validator/" + env + "/database-url",
		"operator_console_database_url_secret_name": "transaction-validator/" + env + "/database/operator_console/url",
		"database_iam_url":                          nil,
		"operator_console_database_iam_url":         nil,
	}
	if mode == "iam" {
		values = map[string]any{
			"database_url_secret_name":                  nil,
			"operator_console_database_url_secret_name": nil,
			"database_iam_url":                          "postgres://transaction_validator@" + proxy,
			"operator_console_database_iam_url":         "postgres://operator_console@" + proxy,
		}
	}
	for k, v := range values {
		doc[k]["value"] = v
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// prodVariant copies prod's prepared overlay next to it (so its ../../ paths hold), with
// edit applied to its kustomization and terraform-outputs.yaml rendered from outputs in
// mode. It returns the directory, or the error Render gave.
func prodVariant(t *testing.T, mode string, edit func(string) string) string {
	t.Helper()
	return variant(t, "prod", mode, edit)
}

// variant is prodVariant for the overlay of env.
func variant(t *testing.T, env, mode string, edit func(string) string) string {
	t.Helper()
	src := overlayDir(env)
	dir, err := os.MkdirTemp(filepath.Dir(src), env+"-"+mode+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch e.Name() {
		case "kustomization.yaml":
			b = []byte(edit(string(b)))
		case "terraform-outputs.yaml":
			if b, err = tfoutputs.Render(outputsInMode(t, env, mode), tfoutputs.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editComponents returns an edit of a kustomization that passes its components list,
// without whichever database login component it lists, through f.
func editComponents(t *testing.T, f func([]any) []any) func(string) string {
	return func(k string) string {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(k), &doc); err != nil {
			t.Fatal(err)
		}
		comps, _ := doc["components"].([]any)
		n := len(comps)
		comps = slices.DeleteFunc(slices.Clone(comps), func(c any) bool { return c == passwordComponent || c == iamComponent })
		if n-len(comps) != 1 {
			t.Fatalf("the overlay's kustomization does not list one database login component: %v", doc["components"])
		}
		doc["components"] = f(comps)
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
}

// withLogin lists the given database login components (and no other).
func withLogin(t *testing.T, components ...any) func(string) string {
	return editComponents(t, func(c []any) []any { return append(c, components...) })
}

// swap lists components/database-iam.
func swap(t *testing.T) func(string) string { return withLogin(t, iamComponent) }

// indexObjects indexes a rendered stream by kind/namespace/name.
func indexObjects(t *testing.T, all []byte) map[object]map[string]any {
	t.Helper()
	out := map[object]map[string]any{}
	err := eachObject(all, func(head object, doc []byte) error {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return err
		}
		out[head] = obj
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustBuild(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := build(dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return out
}

// The component changes exactly the two Deployments and the validator's ExternalSecret,
// deletes the console's (DATABASE_URL was its only key) and adds the two STS policies;
// every other object is prod's, byte for byte.
func TestDatabaseIAMChangesOnlyTheLogin(t *testing.T) {
	prod := indexObjects(t, mustBuild(t, prodVariant(t, "password", withLogin(t, passwordComponent))))
	iam := indexObjects(t, mustBuild(t, prodVariant(t, "iam", swap(t))))
	var changed, added, removed []string
	for k, v := range iam {
		p, ok := prod[k]
		switch {
		case !ok:
			added = append(added, k.Kind+"/"+k.Name)
		case !equalJSON(t, p, v):
			changed = append(changed, k.Kind+"/"+k.Name)
		}
	}
	for k := range prod {
		if _, ok := iam[k]; !ok {
			removed = append(removed, k.Kind+"/"+k.Name)
		}
	}
	for what, want := range map[string][]string{
		"changed": {"Deployment/operator-console", "Deployment/transaction-validator", "ExternalSecret/transaction-validator"},
		"added":   {"NetworkPolicy/egress-to-sts", "NetworkPolicy/operator-console-egress-to-sts"},
		"removed": {"ExternalSecret/operator-console"},
	} {
		got := map[string][]string{"changed": changed, "added": added, "removed": removed}[what]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s objects = %v, want %v", what, got, want)
		}
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

// What the services need for DATABASE_AUTH=iam (svc/internal/config, svc/internal/dbauth):
// a password-less DATABASE_URL of their own user as a plain value, DATABASE_AUTH=iam and
// AWS_REGION; no DATABASE_URL secret anywhere; 443 to the STS endpoint's subnets only.
func TestDatabaseIAMComponent(t *testing.T) {
	m := render(t, prodVariant(t, "iam", swap(t)))
	for _, bad := range []string{"TF_OUTPUT_MISSING", "192.0.2."} {
		if strings.Contains(string(m.raw)+string(m.Workloads.raw), bad) {
			t.Errorf("render still holds placeholder %s", bad)
		}
	}

	for _, d := range append(m.Deployments, m.Workloads.Deployments...) {
		wantURL := map[string]string{appName: validatorIAMURL, "operator-console": consoleIAMURL}[d.Name]
		if wantURL == "" {
			continue
		}
		env := map[string]string{}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != d.Name {
				continue
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Key == "DATABASE_URL" {
					t.Errorf("%s: %s still comes from a secret's DATABASE_URL", d.Name, e.Name)
				}
				if e.ValueFrom == nil {
					env[e.Name] = e.Value
				}
			}
		}
		for name, want := range map[string]string{"DATABASE_URL": wantURL, "DATABASE_AUTH": "iam", "AWS_REGION": "eu-central-1"} {
			if env[name] != want {
				t.Errorf("%s: env %s = %q, want %q", d.Name, name, env[name], want)
			}
		}
	}

	keys := map[string][]string{}
	for _, es := range append(m.Custom["ExternalSecret"], m.Workloads.Custom["ExternalSecret"]...) {
		var spec struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     struct {
				Data []struct {
					SecretKey string `json:"secretKey"`
				} `json:"data"`
			} `json:"spec"`
		}
		b, _ := json.Marshal(es)
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		for _, d := range spec.Spec.Data {
			keys[spec.Metadata.Name] = append(keys[spec.Metadata.Name], d.SecretKey)
		}
	}
	if got, want := keys[appName], []string{"PAN_HMAC_KEY", "REDIS_USERNAME", "REDIS_PASSWORD"}; !slices.Equal(got, want) {
		t.Errorf("validator ExternalSecret keys = %v, want %v", got, want)
	}
	if got, ok := keys["operator-console"]; ok {
		t.Errorf("console ExternalSecret still exists with keys %v", got)
	}
	if got, want := keys["operator-console-oidc"], []string{"clientSecret"}; !slices.Equal(got, want) {
		t.Errorf("console IdP ExternalSecret keys = %v, want %v (untouched)", got, want)
	}

	db := []string{"10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"}
	found := map[string]bool{}
	for _, np := range append(m.NetworkPolicies, m.Workloads.NetworkPolicies...) {
		pod := map[string]string{"egress-to-sts": appName, "operator-console-egress-to-sts": "operator-console"}[np.Name]
		if pod == "" {
			continue
		}
		found[np.Name] = true
		// Like every other policy of the workload: the deployer's namespaced RBAC applies
		// only objects with a namespace (TestDeployerRBAC), and the labels are base's.
		if np.Namespace != namespace || np.Labels["app.kubernetes.io/name"] != pod || np.Labels["app.kubernetes.io/part-of"] != "payments" || np.Labels["app.kubernetes.io/environment"] != "prod" {
			t.Errorf("%s: namespace %q, labels %v, want %s and the workload's labels", np.Name, np.Namespace, np.Labels, namespace)
		}
		if got := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]; got != pod || len(np.Spec.Ingress) != 0 {
			t.Errorf("%s selects %q (ingress %v), want egress of %s only", np.Name, got, np.Spec.Ingress, pod)
		}
		if len(np.Spec.Egress) != 1 {
			t.Fatalf("%s has %d egress rules, want 1", np.Name, len(np.Spec.Egress))
		}
		r := np.Spec.Egress[0]
		var cidrs []string
		for _, p := range r.To {
			if p.IPBlock == nil || len(p.IPBlock.Except) != 0 || p.PodSelector != nil || p.NamespaceSelector != nil {
				t.Errorf("%s: peer %+v is not a plain ipBlock", np.Name, p)
				continue
			}
			cidrs = append(cidrs, p.IPBlock.CIDR)
		}
		if !slices.Equal(cidrs, db) {
			t.Errorf("%s: to %v, want the database subnets %v (where the STS endpoint is)", np.Name, cidrs, db)
		}
		if len(r.Ports) != 1 || r.Ports[0].Port == nil || r.Ports[0].Port.IntValue() != 443 || r.Ports[0].Protocol == nil || *r.Ports[0].Protocol != "TCP" || r.Ports[0].EndPort != nil {
			t.Errorf("%s: ports %+v, want TCP 443 only", np.Name, r.Ports)
		}
	}
	if len(found) != 2 {
		t.Errorf("STS policies found: %v, want egress-to-sts and operator-console-egress-to-sts", found)
	}
}

// A mode the infrastructure does not run cannot be built: each component reads keys
// kustomize/tfoutputs writes only in its own mode, and the two cannot be combined.
func TestDatabaseLoginComponentMustMatchInfra(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		edit       func(*testing.T) func(string) string
		want       string
	}{
		{"iam component, password infra", "password", swap, "data.database_iam_url"},
		{"password component, iam infra", "iam", func(t *testing.T) func(string) string {
			return withLogin(t, passwordComponent)
		}, "data.database_url_secret_name"},
		{"both components", "iam", func(t *testing.T) func(string) string {
			return withLogin(t, passwordComponent, iamComponent)
		}, "database_url_secret_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := prodVariant(t, tc.mode, tc.edit(t))
			out, err := build(dir)
			if err == nil {
				t.Fatalf("built:\n%.400s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s: %v", tc.want, err)
			}
		})
	}
}

// The repository's rules for the validator and the workloads hold for every overlay in
// iam mode too (dev's included, though local deploys keep it on password), so switching
// an environment needs no rule change.
func TestDatabaseIAMOverlayKeepsTheRules(t *testing.T) {
	for _, e := range envs {
		m := render(t, variant(t, e.name, "iam", swap(t)))
		for _, r := range rules {
			t.Run(e.name+"/"+r.name, func(t *testing.T) {
				for _, v := range r.check(e, m) {
					t.Error(v)
				}
			})
		}
		for _, r := range workloadRules {
			t.Run(e.name+"/workloads/"+r.name, func(t *testing.T) {
				for _, v := range r.check(e, m) {
					t.Error(v)
				}
			})
		}
	}
}

// The rules tell the modes apart: 443 to the data subnets only with IAM logins, and IAM
// logins only with a way to STS and without a DATABASE_URL secret.
func TestLoginModeRulesCatchMismatches(t *testing.T) {
	password := render(t, prodVariant(t, "password", withLogin(t, passwordComponent)))
	iam := render(t, prodVariant(t, "iam", swap(t)))
	stsOf := func(m *manifests) (validator, console networkingv1.NetworkPolicy) {
		for _, np := range m.NetworkPolicies {
			if np.Name == "egress-to-sts" {
				validator = np
			}
		}
		for _, np := range m.Workloads.NetworkPolicies {
			if np.Name == "operator-console-egress-to-sts" {
				console = np
			}
		}
		return validator, console
	}
	without := func(nps []networkingv1.NetworkPolicy, name string) []networkingv1.NetworkPolicy {
		return slices.DeleteFunc(slices.Clone(nps), func(np networkingv1.NetworkPolicy) bool { return np.Name == name })
	}
	sts, consoleSTS := stsOf(iam)
	prod := envs[len(envs)-1]

	for _, tc := range []struct {
		name  string
		check func(env, *manifests) []string
		m     func() *manifests
		want  string
	}{
		{"password validator with 443 to the data subnets", checkNetworkPolicies, func() *manifests {
			m := *password
			m.NetworkPolicies = append(slices.Clone(m.NetworkPolicies), sts)
			return &m
		}, "does not log in with IAM"},
		{"iam validator without STS", checkNetworkPolicies, func() *manifests {
			m := *iam
			m.NetworkPolicies = without(m.NetworkPolicies, "egress-to-sts")
			return &m
		}, "no NetworkPolicy lets it reach STS"},
		{"password console with 443 to the data subnets", checkConsoleNetworkPolicies, func() *manifests {
			m, w := *password, *password.Workloads
			w.NetworkPolicies = append(slices.Clone(w.NetworkPolicies), consoleSTS)
			m.Workloads = &w
			return &m
		}, "database may only be reached on [5432], not 443"},
		{"iam console without STS", checkConsoleNetworkPolicies, func() *manifests {
			m, w := *iam, *iam.Workloads
			w.NetworkPolicies = without(w.NetworkPolicies, "operator-console-egress-to-sts")
			m.Workloads = &w
			return &m
		}, "the console logs in with IAM but no NetworkPolicy lets it reach STS"},
		{"iam validator still mapping the DATABASE_URL secret", checkExternalSecret, func() *manifests {
			m := *iam
			m.Custom = map[string][]map[string]any{}
			for k, v := range iam.Custom {
				m.Custom[k] = v
			}
			m.Custom["ExternalSecret"] = password.Custom["ExternalSecret"]
			return &m
		}, "ExternalSecret provides DATABASE_URL"},
		{"iam console keeping its ExternalSecret", checkConsoleSecret, func() *manifests {
			m, w := *iam, *iam.Workloads
			w.Custom = map[string][]map[string]any{}
			for k, v := range iam.Workloads.Custom {
				w.Custom[k] = v
			}
			w.Custom["ExternalSecret"] = password.Workloads.Custom["ExternalSecret"]
			m.Workloads = &w
			return &m
		}, "still has ExternalSecret operator-console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.check(prod, tc.m())
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("violations %v do not say %q", got, tc.want)
			}
		})
	}
}
