package kustomize

// The workload rules can fail: one seeded breakage per rule.

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestWorkloadRulesCatchMutations: each case breaks one requirement of the rendered prod
// manifests and expects the named workload rule to object.
func TestWorkloadRulesCatchMutations(t *testing.T) {
	prod := envs[len(envs)-1]
	base, err := build(filepath.Join("overlays", prod.name))
	if err != nil {
		t.Fatal(err)
	}
	con := func(m *manifests) *corev1.Container {
		return workloadContainer(consoleName, &consoleDeployment(m.Workloads).Spec.Template)
	}
	etl := func(m *manifests) *corev1.Container {
		return workloadContainer(etlName, &etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template)
	}
	policy := func(m *manifests, name string) *networkingv1.NetworkPolicy {
		for i := range m.Workloads.NetworkPolicies {
			if m.Workloads.NetworkPolicies[i].Name == name {
				return &m.Workloads.NetworkPolicies[i]
			}
		}
		panic("no policy " + name)
	}
	consoleIngress := func(m *manifests) *networkingv1.Ingress {
		for i := range m.Workloads.Ingresses {
			if m.Workloads.Ingresses[i].Name == consoleName {
				return &m.Workloads.Ingresses[i]
			}
		}
		panic("no console ingress")
	}
	cases := []struct {
		rule   string
		mutate func(m *manifests)
	}{
		{"workloads-present", func(m *manifests) { m.Workloads.CronJobs = nil }},
		{"workload-pod-security", func(m *manifests) { con(m).SecurityContext.ReadOnlyRootFilesystem = ptr.To(false) }},
		{"workload-pod-security", func(m *manifests) { etl(m).SecurityContext.AllowPrivilegeEscalation = nil }},
		{"workload-pod-security", func(m *manifests) { etl(m).SecurityContext.Capabilities.Drop = nil }},
		{"workload-pod-security", func(m *manifests) {
			consoleDeployment(m.Workloads).Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			con(m).SecurityContext.SeccompProfile = nil
		}},
		{"workload-pod-security", func(m *manifests) { con(m).SecurityContext.RunAsNonRoot = ptr.To(false) }},
		{"workload-resources", func(m *manifests) { etl(m).Resources.Limits = nil }},
		{"workload-images", func(m *manifests) { etl(m).Image = "your-registry/fx-rates-etl:v1.0.0" }},
		{"workload-images", func(m *manifests) {
			con(m).Image = strings.Replace(con(m).Image, "/operator-console@", "/transaction-validator@", 1)
		}},
		{"workload-serviceaccounts", func(m *manifests) {
			etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName = appName
		}},
		{"workload-serviceaccounts", func(m *manifests) {
			for i := range m.Workloads.ServiceAccounts {
				m.Workloads.ServiceAccounts[i].Annotations["eks.amazonaws.com/role-arn"] = "arn:aws:iam::000000000000:role/tv-prod-transaction-validator"
			}
		}},
		{"workload-env", func(m *manifests) { etl(m).Env = append(etl(m).Env, corev1.EnvVar{Name: "S3_BUKET", Value: "x"}) }},
		{"workload-env", func(m *manifests) { con(m).Env = append(con(m).Env, corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}) }},
		{"workload-env", func(m *manifests) {
			con(m).Env = slices.DeleteFunc(con(m).Env, func(e corev1.EnvVar) bool { return e.Name == "VALIDATOR_URL" })
		}},
		{"workload-env", func(m *manifests) {
			for i, ev := range con(m).Env {
				if ev.Name == "VALIDATOR_URL" {
					con(m).Env[i].Value = "http://transaction-validator.transaction-validator.svc:9090"
				}
			}
		}},
		{"workload-env", func(m *manifests) {
			for i, ev := range con(m).Env {
				if ev.Name == "VALIDATOR_URL" {
					// The public API port: the console's transactions would not be marked test.
					con(m).Env[i].Value = "http://transaction-validator.transaction-validator.svc:8080"
				}
			}
		}},
		{"console-replicas-hpa-pdb", func(m *manifests) { m.Workloads.HPAs[0].Spec.MinReplicas = ptr.To[int32](1) }},
		{"console-replicas-hpa-pdb", func(m *manifests) { consoleDeployment(m.Workloads).Spec.Replicas = ptr.To[int32](2) }},
		{"console-replicas-hpa-pdb", func(m *manifests) { m.Workloads.PDBs = nil }},
		{"console-probes", func(m *manifests) { con(m).ReadinessProbe = nil }},
		{"console-probes", func(m *manifests) { con(m).LivenessProbe.HTTPGet.Path = "/healthz" }},
		{"console-spread", func(m *manifests) { consoleDeployment(m.Workloads).Spec.Template.Spec.TopologySpreadConstraints = nil }},
		{"console-externalsecret", func(m *manifests) {
			m.Workloads.Custom["SecretStore"][0]["spec"].(map[string]any)["provider"].(map[string]any)["aws"].(map[string]any)["auth"] =
				map[string]any{"jwt": map[string]any{"serviceAccountRef": map[string]any{"name": appName}}}
		}},
		{"console-externalsecret", func(m *manifests) {
			es := m.Workloads.Custom["ExternalSecret"][0]["spec"].(map[string]any)
			es["data"] = append(es["data"].([]any), map[string]any{"secretKey": "PAN_HMAC_KEY", "remoteRef": map[string]any{"key": "transaction-validator/prod/pan-hmac-key"}})
		}},
		{"console-ingress-same-alb", func(m *manifests) { delete(consoleIngress(m).Annotations, "alb.ingress.kubernetes.io/group.name") }},
		{"console-ingress-same-alb", func(m *manifests) { delete(m.Ingresses[0].Annotations, "alb.ingress.kubernetes.io/group.name") }},
		{"console-ingress-same-alb", func(m *manifests) { delete(consoleIngress(m).Annotations, "alb.ingress.kubernetes.io/wafv2-acl-arn") }},
		{"console-ingress-same-alb", func(m *manifests) { consoleIngress(m).Spec.Rules[0].HTTP.Paths[0].Path = "/" }},
		{"console-networkpolicies", func(m *manifests) {
			m.Workloads.NetworkPolicies = slices.DeleteFunc(m.Workloads.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "operator-console-egress-to-validator"
			})
		}},
		{"console-networkpolicies", func(m *manifests) {
			np := policy(m, "operator-console-egress-to-database")
			np.Spec.Egress[0].Ports[0].Port = ptr.To(intstr.FromInt32(6379))
		}},
		{"console-networkpolicies", func(m *manifests) {
			np := policy(m, "operator-console-ingress-from-alb")
			np.Spec.Ingress[0].From[0].IPBlock.CIDR = "0.0.0.0/0"
		}},
		{"console-networkpolicies", func(m *manifests) {
			m.NetworkPolicies = slices.DeleteFunc(m.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool {
				return np.Name == "ingress-from-operator-console"
			})
		}},
		// The console's test transactions: only via the validator's console-test port, and
		// only the console may reach that port.
		{"console-networkpolicies", func(m *manifests) {
			np := policy(m, "operator-console-egress-to-validator")
			np.Spec.Egress[0].Ports[0].Port = ptr.To(intstr.FromInt32(httpPort))
		}},
		{"console-networkpolicies", func(m *manifests) {
			for i := range m.NetworkPolicies {
				if m.NetworkPolicies[i].Name == "ingress-from-internal-clients" {
					r := &m.NetworkPolicies[i].Spec.Ingress[0]
					r.Ports = append(r.Ports, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString("console-test"))})
				}
			}
		}},
		{"console-networkpolicies", func(m *manifests) {
			d, _ := deployment(m)
			c := container(d)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "CONSOLE_TEST_ADDR" })
		}},
		{"etl-networkpolicies", func(m *manifests) {
			np := policy(m, "fx-rates-etl-egress-to-https")
			np.Spec.Egress[0].Ports = append(np.Spec.Egress[0].Ports, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(80))})
		}},
		{"etl-networkpolicies", func(m *manifests) {
			np := policy(m, "fx-rates-etl-egress-to-https")
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, "Ingress")
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"}}}}}
		}},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.ConcurrencyPolicy = batchv1.AllowConcurrent }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.Schedule = "0 9 * * 1-5" }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.TimeZone = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.StartingDeadlineSeconds = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.ActiveDeadlineSeconds = nil }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.BackoffLimit = ptr.To[int32](6) }},
		{"etl-cronjob", func(m *manifests) { etlCronJob(m.Workloads).Spec.JobTemplate.Spec.TTLSecondsAfterFinished = nil }},
		{"etl-cronjob", func(m *manifests) {
			etlCronJob(m.Workloads).Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rule] = true
		t.Run(c.rule, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range workloadRules {
				if v := r.check(prod, m); len(v) > 0 {
					t.Fatalf("unmutated prod already fails %s: %v", r.name, v)
				}
			}
			c.mutate(m)
			for _, r := range workloadRules {
				if r.name != c.rule {
					continue
				}
				v := r.check(prod, m)
				if len(v) == 0 {
					t.Errorf("rule %s did not catch the mutation", c.rule)
				}
				t.Logf("caught: %s", strings.Join(v, "; "))
			}
		})
	}
	for _, r := range workloadRules {
		if !covered[r.name] {
			t.Errorf("rule %s has no mutation case: nothing shows it can fail", r.name)
		}
	}
}
