package kustomize

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestOverlays renders each overlay and holds it to every rule for its environment.
func TestOverlays(t *testing.T) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			m := render(t, filepath.Join("overlays", e.name))
			for _, r := range rules {
				t.Run(r.name, func(t *testing.T) {
					for _, v := range r.check(e, m) {
						t.Error(v)
					}
				})
			}
		})
	}
}

// TestEveryOverlayIsTested: an overlay added without a row in envs would ship unchecked.
func TestEveryOverlayIsTested(t *testing.T) {
	dirs, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		found := false
		for _, e := range envs {
			found = found || e.name == d.Name()
		}
		if d.IsDir() && !found {
			t.Errorf("overlays/%s has no row in envs (rules_test.go)", d.Name())
		}
	}
}

// TestRulesCatchMutations proves the rules can fail: each case breaks one requirement of
// the rendered prod manifests and expects the named rule, and only a rule, to object.
func TestRulesCatchMutations(t *testing.T) {
	prod := envs[len(envs)-1]
	base, err := build(filepath.Join("overlays", prod.name))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rule   string
		mutate func(m *manifests)
	}{
		{"no-placeholders", func(m *manifests) {
			m.raw = bytes.Replace(m.raw, []byte("arn:aws:wafv2"), []byte("TF_OUTPUT_MISSING_waf_acl_arn"), 1)
		}},
		{"namespace-psa-restricted", func(m *manifests) {
			m.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		}},
		{"replicas-owned-by-hpa", func(m *manifests) { m.HPAs[0].Spec.MinReplicas = ptr.To[int32](2) }},
		{"replicas-owned-by-hpa", func(m *manifests) { m.Deployments[0].Spec.Replicas = ptr.To[int32](3) }},
		{"rolling-update-for-payments", func(m *manifests) {
			m.Deployments[0].Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}},
		{"rolling-update-for-payments", func(m *manifests) { m.Deployments[0].Spec.MinReadySeconds = 0 }},
		{"rolling-update-for-payments", func(m *manifests) { m.Deployments[0].Spec.ProgressDeadlineSeconds = ptr.To[int32](60) }},
		{"image-pinned-by-digest", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.Containers[0].Image = "your-registry/transaction-validator:v1.0.0"
		}},
		{"resources", func(m *manifests) {
			delete(m.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory)
		}},
		{"resources", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("128Mi")
		}},
		{"resources", func(m *manifests) {
			for i, ev := range m.Deployments[0].Spec.Template.Spec.Containers[0].Env {
				if ev.Name == "GOMEMLIMIT" {
					m.Deployments[0].Spec.Template.Spec.Containers[0].Env[i].Value = "300MiB"
				}
			}
		}},
		{"probes", func(m *manifests) { m.Deployments[0].Spec.Template.Spec.Containers[0].ReadinessProbe = nil }},
		{"probes", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromString("metrics")
		}},
		{"pod-security", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
		}},
		{"pod-security", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"pod-security", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			m.Deployments[0].Spec.Template.Spec.Containers[0].SecurityContext.SeccompProfile = nil
		}},
		{"pod-security", func(m *manifests) { m.Deployments[0].Spec.Template.Spec.AutomountServiceAccountToken = nil }},
		{"spread-zones-and-nodes", func(m *manifests) { m.Deployments[0].Spec.Template.Spec.TopologySpreadConstraints = nil }},
		{"spread-zones-and-nodes", func(m *manifests) { m.Deployments[0].Spec.Template.Spec.Affinity = nil }},
		{"graceful-shutdown", func(m *manifests) {
			m.Deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
		}},
		{"graceful-shutdown", func(m *manifests) { appConfigOf(m).Data["SHUTDOWN_TIMEOUT"] = "40s" }},
		{"configmap", func(m *manifests) { appConfigOf(m).Data["REDIS_ENDPOINT"] = "redis://plain.example.com:6379" }},
		{"configmap", func(m *manifests) { delete(appConfigOf(m).Data, "MAX_TRANSACTIONS_PER_SECOND") }},
		{"configmap", func(m *manifests) { appConfigOf(m).Data["REDIS_PASSWORD"] = "hunter2" }},
		{"configmap", func(m *manifests) {
			appConfigOf(m).Data["REDIS_ENDPOINT"] = "rediss://user:pw@clustercfg.example.com:6379"
		}},
		{"hpa", func(m *manifests) { m.HPAs[0].Spec.MaxReplicas = 100 }},
		{"hpa", func(m *manifests) { m.HPAs[0].Spec.Metrics = m.HPAs[0].Spec.Metrics[:1] }},
		{"hpa", func(m *manifests) { appConfigOf(m).Data["MAX_TRANSACTIONS_PER_SECOND"] = "5000" }},
		{"load-shedding", func(m *manifests) { delete(appConfigOf(m).Data, "MAX_IN_FLIGHT") }},
		{"load-shedding", func(m *manifests) { appConfigOf(m).Data["MAX_IN_FLIGHT"] = "128" }}, // > REDIS_POOL_SIZE
		{"load-shedding", func(m *manifests) { // 100 / 150 req/s drains within 1 s; 200 / 150 would not
			appConfigOf(m).Data["MAX_IN_FLIGHT"], appConfigOf(m).Data["REDIS_POOL_SIZE"] = "200", "256"
		}},
		{"load-shedding", func(m *manifests) {
			delete(appConfigOf(m).Data, "REDIS_POOL_SIZE")
			appConfigOf(m).Data["MAX_IN_FLIGHT"] = "100"
		}},
		{"load-shedding", func(m *manifests) { appConfigOf(m).Data["DB_POOL_MAX_CONNS"] = "2" }},
		{"load-shedding", func(m *manifests) { appConfigOf(m).Data["DB_TIMEOUT"] = "3s" }},
		{"load-shedding", func(m *manifests) { appConfigOf(m).Data["REQUEST_TIMEOUT"] = "30s" }},
		{"pdb", func(m *manifests) { m.PDBs[0].Spec.MaxUnavailable = ptr.To(intstr.FromString("50%")) }},
		{"serviceaccount-irsa", func(m *manifests) { delete(m.ServiceAccounts[0].Annotations, "eks.amazonaws.com/role-arn") }},
		{"externalsecret", func(m *manifests) {
			es := m.Custom["ExternalSecret"][0]["spec"].(map[string]any)
			es["data"] = es["data"].([]any)[1:]
		}},
		{"service", func(m *manifests) { m.Services[0].Spec.Type = corev1.ServiceTypeLoadBalancer }},
		{"ingress-alb", func(m *manifests) { delete(m.Ingresses[0].Annotations, "alb.ingress.kubernetes.io/wafv2-acl-arn") }},
		{"ingress-alb", func(m *manifests) { delete(m.Ingresses[0].Annotations, "alb.ingress.kubernetes.io/ssl-redirect") }},
		{"ingress-alb", func(m *manifests) { m.Ingresses[0].Spec.Rules[0].HTTP.Paths[0].Path = "/" }},
		{"externalsecret", func(m *manifests) {
			env := m.Deployments[0].Spec.Template.Spec.Containers[0].Env
			m.Deployments[0].Spec.Template.Spec.Containers[0].Env = slices.DeleteFunc(env, func(e corev1.EnvVar) bool {
				return e.Name == "REDIS_PASSWORD"
			})
		}},
		{"networkpolicies", func(m *manifests) {
			m.NetworkPolicies = slices.DeleteFunc(m.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "default-deny"
			})
		}},
		{"networkpolicies", func(m *manifests) {
			m.NetworkPolicies = append(m.NetworkPolicies, networkingv1.NetworkPolicy{
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: m.NetworkPolicies[1].Spec.PodSelector,
					PolicyTypes: []networkingv1.PolicyType{"Egress"},
					Egress: []networkingv1.NetworkPolicyEgressRule{{
						To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}},
						Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(443))}},
					}},
				},
			})
		}},
		{"canary-gate-path", func(m *manifests) {
			m.NetworkPolicies = slices.DeleteFunc(m.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "ingress-from-canary-gate"
			})
		}},
		{"canary-gate-path", func(m *manifests) {
			for i := range m.NetworkPolicies {
				if m.NetworkPolicies[i].Name == "canary-gate" {
					r := &m.NetworkPolicies[i].Spec.Egress[0]
					r.Ports = append(r.Ports, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(consoleTestPort))})
				}
			}
		}},
		{"canary-gate-path", func(m *manifests) {
			for i := range m.NetworkPolicies {
				if m.NetworkPolicies[i].Name == "ingress-from-canary-gate" {
					m.NetworkPolicies[i].Spec.Ingress[0].From[0].NamespaceSelector = nil
					m.NetworkPolicies[i].Spec.Ingress[0].From[0].PodSelector.MatchLabels = nil
				}
			}
		}},
		{"servicemonitor", func(m *manifests) { delete(m.Custom, "ServiceMonitor") }},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rule] = true
		t.Run(c.rule, func(t *testing.T) {
			m, err := decode(base) // a fresh copy per case
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				if v := r.check(prod, m); len(v) > 0 {
					t.Fatalf("unmutated prod already fails %s: %v", r.name, v)
				}
			}
			c.mutate(m)
			for _, r := range rules {
				v := r.check(prod, m)
				if r.name == c.rule && len(v) == 0 {
					t.Errorf("rule %s did not catch the mutation", c.rule)
				}
				if r.name == c.rule {
					t.Logf("caught: %s", strings.Join(v, "; "))
				}
			}
		})
	}
	for _, r := range rules {
		if !covered[r.name] {
			t.Errorf("rule %s has no mutation case: nothing shows it can fail", r.name)
		}
	}
}

// TestBrokenOverlayFails goes through kustomize itself: an overlay on top of prod that
// patches the readiness probe away and re-adds a replicas count must fail the rules, the
// way a careless future overlay change would.
func TestBrokenOverlayFails(t *testing.T) {
	prodDir := overlayDir("prod")
	dir := t.TempDir()
	// kustomize refuses absolute resource paths; a relative one may leave the root.
	rel, err := filepath.Rel(dir, prodDir)
	if err != nil {
		t.Fatal(err)
	}
	kz := `resources:
  - ` + rel + `
patches:
  - target: {kind: Deployment, name: transaction-validator}
    patch: |-
      - op: remove
        path: /spec/template/spec/containers/0/readinessProbe
      - op: add
        path: /spec/replicas
        value: 3
`
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kz), 0o644); err != nil {
		t.Fatal(err)
	}
	m := render(t, dir)
	prod := envs[len(envs)-1]
	failed := map[string]bool{}
	for _, r := range rules {
		if len(r.check(prod, m)) > 0 {
			failed[r.name] = true
		}
	}
	for _, want := range []string{"probes", "replicas-owned-by-hpa"} {
		if !failed[want] {
			t.Errorf("rule %s passed on an overlay that breaks it", want)
		}
	}
}

func appConfigOf(m *manifests) *corev1.ConfigMap {
	cm, err := appConfig(m)
	if err != nil {
		panic(err)
	}
	return cm
}
