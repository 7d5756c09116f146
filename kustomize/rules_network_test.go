package kustomize

// Traffic: the Service (base/service.yaml), the ALB Ingress (base/ingress.yaml) and the
// NetworkPolicies (base/networkpolicy.yaml).

import (
	"net"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkService(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	if len(m.Services) != 1 {
		return []string{"want exactly 1 Service"}
	}
	s := m.Services[0]
	if s.Spec.Type != corev1.ServiceTypeClusterIP && s.Spec.Type != "" {
		errorf(&out, "Service must be ClusterIP, is %s", s.Spec.Type)
	}
	if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
		errorf(&out, "Service selector does not select the pods")
	}
	c := container(d)
	ports := map[string]int32{}
	for _, p := range s.Spec.Ports {
		if c != nil {
			ports[p.Name] = resolvePort(c, p.TargetPort)
		}
	}
	if ports["http"] != httpPort || ports["metrics"] != metricsPort {
		errorf(&out, "Service ports must be http->%d and metrics->%d, are %v", httpPort, metricsPort, ports)
	}
	return out
}

var (
	acmARN = regexp.MustCompile(`^arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$`)
	wafARN = regexp.MustCompile(`^arn:aws:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[\w-]+/[0-9a-f-]+$`)
)

func checkIngress(_ env, m *manifests) (out []string) {
	if len(m.Ingresses) != 1 {
		return []string{"want exactly 1 Ingress"}
	}
	ing := m.Ingresses[0]
	a := ing.Annotations
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "alb" {
		errorf(&out, "ingressClassName must be alb (AWS Load Balancer Controller)")
	}
	for k, want := range map[string]string{
		"alb.ingress.kubernetes.io/target-type":  "ip",
		"alb.ingress.kubernetes.io/ssl-redirect": "443",
	} {
		if a[k] != want {
			errorf(&out, "annotation %s must be %q, is %q", k, want, a[k])
		}
	}
	if !strings.Contains(a["alb.ingress.kubernetes.io/listen-ports"], `"HTTPS": 443`) {
		errorf(&out, "the ALB must listen on HTTPS 443")
	}
	if !acmARN.MatchString(a["alb.ingress.kubernetes.io/certificate-arn"]) {
		errorf(&out, "certificate-arn %q is not an ACM certificate ARN", a["alb.ingress.kubernetes.io/certificate-arn"])
	}
	if !wafARN.MatchString(a["alb.ingress.kubernetes.io/wafv2-acl-arn"]) {
		errorf(&out, "wafv2-acl-arn %q is not a regional WAFv2 web ACL ARN", a["alb.ingress.kubernetes.io/wafv2-acl-arn"])
	}
	if !regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`).MatchString(a["alb.ingress.kubernetes.io/security-groups"]) {
		errorf(&out, "security-groups must be Terraform's ALB security group id, is %q", a["alb.ingress.kubernetes.io/security-groups"])
	}
	if !strings.HasPrefix(a["alb.ingress.kubernetes.io/ssl-policy"], "ELBSecurityPolicy-TLS13-") {
		errorf(&out, "ssl-policy must be a TLS 1.3 policy (TLS 1.2 minimum)")
	}
	var paths []string
	for _, r := range ing.Spec.Rules {
		tlsHost := false
		for _, t := range ing.Spec.TLS {
			tlsHost = tlsHost || slices.Contains(t.Hosts, r.Host)
		}
		if r.Host == "" || !tlsHost {
			errorf(&out, "rule host %q must be named and listed under tls", r.Host)
		}
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
			if p.Backend.Service == nil || p.Backend.Service.Name != appName || p.Backend.Service.Port.Name != "http" {
				errorf(&out, "path %s must go to Service %s port http", p.Path, appName)
			}
			if p.PathType == nil || (*p.PathType != "Exact" && *p.PathType != "Prefix") {
				errorf(&out, "path %s needs pathType Exact or Prefix", p.Path)
			}
		}
	}
	// Only the API is published; probes and /metrics stay internal.
	if !slices.Equal(paths, []string{"/api/validate"}) {
		errorf(&out, "Ingress must publish exactly /api/validate, publishes %v", paths)
	}
	return out
}

func checkNetworkPolicies(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	podLabels := d.Spec.Template.Labels
	defaultDeny := false
	var albIngress, dns, db, redis, sts bool
	iam := false
	if c := container(d); c != nil {
		iam = iamLogin(c)
	}
	for _, np := range m.NetworkPolicies {
		s := np.Spec
		if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 {
			if slices.Contains(s.PolicyTypes, "Ingress") && slices.Contains(s.PolicyTypes, "Egress") && len(s.Ingress) == 0 && len(s.Egress) == 0 {
				defaultDeny = true
				continue
			}
			errorf(&out, "%s: a policy for every pod may only deny", np.Name)
			continue
		}
		if s.PodSelector.MatchLabels["app.kubernetes.io/name"] == gateName {
			continue // the canary gate's own pods: checkCanaryGatePath
		}
		if !selects(s.PodSelector.MatchLabels, podLabels) {
			errorf(&out, "%s does not select the service's pods", np.Name)
		}
		for _, r := range s.Ingress {
			if len(r.From) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an ingress rule without peers or ports allows everything", np.Name)
				continue
			}
			for _, p := range r.From {
				switch {
				case p.IPBlock != nil:
					if !privateCIDR(p.IPBlock.CIDR) {
						errorf(&out, "%s: ingress from %s; only the ALB's VPC subnets may be an IP peer", np.Name, p.IPBlock.CIDR)
					}
					for _, port := range r.Ports {
						if port.Port == nil || resolvePort(container(d), *port.Port) != httpPort {
							errorf(&out, "%s: the ALB may only reach port %d", np.Name, httpPort)
						}
					}
					albIngress = true
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == namespace &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == gateName:
					// The release's canary gate (ci/canary.go): its path is checkCanaryGatePath's.
				case p.NamespaceSelector != nil && p.PodSelector != nil:
					ns := p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
					if app, ok := internalClients[ns]; !ok || p.PodSelector.MatchLabels["app.kubernetes.io/name"] != app {
						errorf(&out, "%s: ingress from %s/%v is not a named internal client", np.Name, ns, p.PodSelector.MatchLabels)
					}
				default:
					errorf(&out, "%s: ingress peers must name both namespace and pods, or be the ALB's CIDR", np.Name)
				}
			}
		}
		for _, r := range s.Egress {
			if len(r.To) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an egress rule without peers or ports allows everything", np.Name)
				continue
			}
			ports := map[int32]bool{}
			for _, p := range r.Ports {
				if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
					errorf(&out, "%s: egress ports must be single numbers", np.Name)
					continue
				}
				ports[p.Port.IntVal] = true
			}
			for _, p := range r.To {
				switch {
				case p.IPBlock != nil:
					if !privateCIDR(p.IPBlock.CIDR) {
						errorf(&out, "%s: egress to %s; only VPC-internal data subnets are allowed", np.Name, p.IPBlock.CIDR)
					}
					for port := range ports {
						switch port {
						case 5432:
							db = true
						case 6379:
							redis = true
						case 443:
							// components/database-iam: STS's interface endpoint, in the
							// database subnets; without IAM logins nothing needs it.
							if !iam {
								errorf(&out, "%s: egress port 443 to %s, but the service does not log in with IAM", np.Name, p.IPBlock.CIDR)
							}
							sts = true
						default:
							errorf(&out, "%s: egress port %d is neither the database, Redis nor STS", np.Name, port)
						}
					}
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" &&
					p.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					for port := range ports {
						if port != 53 {
							errorf(&out, "%s: kube-dns may only be reached on port 53", np.Name)
						}
					}
					dns = true
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "tracing" &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == "otel-collector":
					// components/tracing: OTLP/HTTP to the collector, nothing else.
					for port := range ports {
						if port != 4318 {
							errorf(&out, "%s: the OTel collector may only be reached on OTLP/HTTP 4318", np.Name)
						}
					}
				default:
					errorf(&out, "%s: egress peer is not DNS, the database, Redis or the OTel collector", np.Name)
				}
			}
		}
	}
	if !defaultDeny {
		errorf(&out, "no default-deny NetworkPolicy (ingress and egress)")
	}
	if iam && !sts {
		errorf(&out, "the service logs in with IAM but no NetworkPolicy lets it reach STS on 443")
	}
	for what, ok := range map[string]bool{"ingress from the ALB": albIngress, "egress to DNS": dns, "egress to the database": db, "egress to Redis": redis} {
		if !ok {
			errorf(&out, "no NetworkPolicy allows %s", what)
		}
	}
	return out
}

// privateCIDR: an RFC 1918 range no wider than a /16 (a VPC); rules out 0.0.0.0/0 and
// "the whole 10/8" shortcuts.
func privateCIDR(cidr string) bool {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil || !ip.IsPrivate() || ip.To4() == nil {
		return false
	}
	ones, _ := n.Mask.Size()
	return ones >= 16
}
