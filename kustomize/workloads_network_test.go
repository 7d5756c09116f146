package kustomize

// NetworkPolicies of the opt-in workloads: the flows each may have, and no other.

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type flows struct {
	ingress map[string]bool // "alb"
	egress  map[string]bool // "dns", "validator", "database", "https"
}

// workloadFlows classifies every rule of the policies that select a workload's pods and
// reports anything that is not one of the allowed flows.
func workloadFlows(m *manifests, podLabels map[string]string, httpPortNum int32, c *corev1.Container) (flows, []string) {
	var out []string
	f := flows{ingress: map[string]bool{}, egress: map[string]bool{}}
	all := append(append([]networkingv1.NetworkPolicy{}, m.NetworkPolicies...), m.Workloads.NetworkPolicies...)
	for _, np := range all {
		s := np.Spec
		if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 {
			continue // base's default-deny (the validator's rules check it only denies)
		}
		if !selects(s.PodSelector.MatchLabels, podLabels) {
			continue
		}
		for _, r := range s.Ingress {
			// Prometheus (monitoring/prometheus) may reach the metrics port, and only it;
			// everyone else is the ALB, to the http port.
			scrape := len(r.From) > 0
			for _, p := range r.From {
				if p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "monitoring" &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == "prometheus" && p.IPBlock == nil {
					continue
				}
				scrape = false
			}
			want, wantName := httpPortNum, "http"
			if scrape {
				f.ingress["prometheus"] = true
				want, wantName = containerMetricsPort(c), "metrics"
			} else {
				for _, p := range r.From {
					if p.IPBlock == nil || !privateCIDR(p.IPBlock.CIDR) || len(p.IPBlock.Except) > 0 {
						errorf(&out, "%s: ingress peer must be the ALB's subnets (a private CIDR) or monitoring/prometheus alone", np.Name)
						continue
					}
					f.ingress["alb"] = true
				}
			}
			if len(r.From) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an ingress rule without peers or ports allows everything", np.Name)
			}
			for _, p := range r.Ports {
				if p.Port == nil || c == nil || want < 0 || resolvePort(c, *p.Port) != want {
					errorf(&out, "%s: ingress only to the %s port %d", np.Name, wantName, want)
				}
			}
		}
		for _, r := range s.Egress {
			if len(r.To) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an egress rule without peers or ports allows everything", np.Name)
				continue
			}
			var ports []int32
			for _, p := range r.Ports {
				if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
					errorf(&out, "%s: egress ports must be single numbers", np.Name)
					continue
				}
				ports = append(ports, p.Port.IntVal)
			}
			for _, p := range r.To {
				var kind string
				var allowed []int32
				switch {
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" &&
					p.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					kind, allowed = "dns", []int32{53}
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == namespace &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == appName:
					// The console-test port only: the console's transactions are all tests.
					kind, allowed = "validator", []int32{consoleTestPort}
				case p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0":
					kind, allowed = "https", []int32{443}
				case p.IPBlock != nil && privateCIDR(p.IPBlock.CIDR) && c != nil && iamLogin(c) && slices.Equal(ports, []int32{443}):
					// components/database-iam: STS's interface endpoint, in the database
					// subnets, for IAM logins only.
					kind, allowed = "sts", []int32{443}
				case p.IPBlock != nil && privateCIDR(p.IPBlock.CIDR):
					kind, allowed = "database", []int32{5432}
				default:
					errorf(&out, "%s: egress peer %+v is not DNS, the validator, the database or HTTPS", np.Name, p)
					continue
				}
				for _, port := range ports {
					if !slices.Contains(allowed, port) {
						errorf(&out, "%s: %s may only be reached on %v, not %d", np.Name, kind, allowed, port)
					}
				}
				f.egress[kind] = true
			}
		}
	}
	return f, out
}

func checkConsoleNetworkPolicies(_ env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	var port int32 = -1
	if c != nil {
		for _, p := range c.Ports {
			if p.Name == "http" {
				port = p.ContainerPort
			}
		}
	}
	f, out := workloadFlows(m, d.Spec.Template.Labels, port, c)
	if !f.ingress["alb"] {
		errorf(&out, "no NetworkPolicy lets the ALB reach the console")
	}
	for _, want := range []string{"dns", "validator", "database"} {
		if !f.egress[want] {
			errorf(&out, "no NetworkPolicy allows the console's egress to %s", want)
		}
	}
	if c != nil && iamLogin(c) && !f.egress["sts"] {
		errorf(&out, "the console logs in with IAM but no NetworkPolicy lets it reach STS on 443")
	}
	// HTTPS out only for the ALB's key service, which verifies operators' identities.
	if !f.egress["https"] {
		errorf(&out, "no NetworkPolicy lets the console fetch the ALB's public keys (HTTPS)")
	}
	// The validator must admit the console (rules_test.go's internalClients names it).
	admitted := false
	for _, np := range m.NetworkPolicies {
		for _, r := range np.Spec.Ingress {
			for _, p := range r.From {
				if p.PodSelector != nil && p.NamespaceSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == namespace &&
					selects(p.PodSelector.MatchLabels, d.Spec.Template.Labels) {
					admitted = true
				}
			}
		}
	}
	if !admitted {
		errorf(&out, "no validator NetworkPolicy admits the console (its test transactions would time out)")
	}
	// Whatever reaches the validator's console-test port marks its transactions as tests:
	// only the console may, and the validator must listen there.
	vd, _ := deployment(m)
	var vc *corev1.Container
	if vd != nil {
		vc = container(vd)
	}
	if vc == nil {
		return append(out, "no validator container")
	}
	if resolvePort(vc, intstr.FromString("console-test")) != consoleTestPort {
		errorf(&out, "the validator has no console-test port %d", consoleTestPort)
	}
	listens := false
	for _, ev := range vc.Env {
		listens = listens || ev.Name == "CONSOLE_TEST_ADDR" && ev.Value == fmt.Sprintf(":%d", consoleTestPort)
	}
	if !listens {
		errorf(&out, "the validator must set CONSOLE_TEST_ADDR=:%d", consoleTestPort)
	}
	for _, np := range m.NetworkPolicies {
		if !selects(np.Spec.PodSelector.MatchLabels, vd.Spec.Template.Labels) || len(np.Spec.PodSelector.MatchLabels) == 0 {
			continue
		}
		for _, r := range np.Spec.Ingress {
			toTestPort := false
			for _, p := range r.Ports {
				toTestPort = toTestPort || p.Port != nil && resolvePort(vc, *p.Port) == consoleTestPort
			}
			for _, p := range r.From {
				if toTestPort && (p.PodSelector == nil || !selects(p.PodSelector.MatchLabels, d.Spec.Template.Labels)) {
					errorf(&out, "%s admits %+v to the validator's console-test port; only the console may", np.Name, p)
				}
			}
		}
	}
	return out
}

func checkETLNetworkPolicies(_ env, m *manifests) (out []string) {
	cj := etlCronJob(m.Workloads)
	if cj == nil {
		return []string{"no ETL CronJob"}
	}
	f, out := workloadFlows(m, cj.Spec.JobTemplate.Spec.Template.Labels, -1, nil)
	if len(f.ingress) > 0 {
		errorf(&out, "nothing may connect to the ETL job")
	}
	for k := range f.egress {
		if k != "dns" && k != "https" {
			errorf(&out, "the ETL job may reach only DNS and HTTPS, not %s", k)
		}
	}
	if !f.egress["dns"] || !f.egress["https"] {
		errorf(&out, "the ETL job needs egress to DNS and to HTTPS (443)")
	}
	return out
}

// containerMetricsPort is the number of the container's port named metrics, -1 without one.
func containerMetricsPort(c *corev1.Container) int32 {
	if c != nil {
		for _, p := range c.Ports {
			if p.Name == "metrics" {
				return p.ContainerPort
			}
		}
	}
	return -1
}
