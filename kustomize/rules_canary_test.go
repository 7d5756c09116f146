package kustomize

// The live canary's gate (ci/canary.go) and the NetworkPolicies: the gate's pods must be
// able to reach the validator's API and metrics ports, and nothing else may change.
// Judged by evaluating the rendered policies the way the cluster does (a connection needs
// the source's egress and the destination's ingress), not by reading single rules.

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// gateName is the app.kubernetes.io/name of the gate's pods (ci/canary.go gateLabel).
const gateName = "canary-gate"

// pod is a connection's end for policy evaluation: its namespace, labels and named ports.
type pod struct {
	ns     string
	labels map[string]string
	ports  map[string]int32
}

// policyAllows reports whether the policies let src open a TCP connection to dst:port.
func policyAllows(nps []networkingv1.NetworkPolicy, src, dst pod, port int32) bool {
	return sideAllows(nps, src, dst, port, networkingv1.PolicyTypeEgress) &&
		sideAllows(nps, dst, src, port, networkingv1.PolicyTypeIngress)
}

// sideAllows: the policies of self's namespace that select self and have this policy
// type; none means the side is open, otherwise one of their rules must admit the peer on
// the port (resolved against dst's named ports for both sides).
func sideAllows(nps []networkingv1.NetworkPolicy, self, peer pod, port int32, typ networkingv1.PolicyType) bool {
	dst := peer
	if typ == networkingv1.PolicyTypeIngress {
		dst = self
	}
	isolated := false
	for _, np := range nps {
		if np.Namespace != self.ns || !selects(np.Spec.PodSelector.MatchLabels, self.labels) ||
			len(np.Spec.PodSelector.MatchExpressions) > 0 || !hasType(np.Spec.PolicyTypes, typ) {
			continue
		}
		isolated = true
		if typ == networkingv1.PolicyTypeEgress {
			for _, r := range np.Spec.Egress {
				if peersMatch(r.To, np.Namespace, peer) && portsMatch(r.Ports, dst, port) {
					return true
				}
			}
		} else {
			for _, r := range np.Spec.Ingress {
				if peersMatch(r.From, np.Namespace, peer) && portsMatch(r.Ports, dst, port) {
					return true
				}
			}
		}
	}
	return !isolated
}

func hasType(types []networkingv1.PolicyType, t networkingv1.PolicyType) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// peersMatch: an empty list admits everyone; an ipBlock never matches a pod here (the
// policies' blocks are VPC subnets outside the pod range).
func peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, p pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			continue
		}
		ns := policyNS
		if peer.NamespaceSelector != nil {
			want, ok := peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
			if len(peer.NamespaceSelector.MatchExpressions) > 0 || (ok && want != p.ns) ||
				(!ok && len(peer.NamespaceSelector.MatchLabels) > 0) {
				continue
			}
			ns = p.ns
		}
		if ns != p.ns {
			continue
		}
		if peer.PodSelector == nil || (len(peer.PodSelector.MatchExpressions) == 0 && selects(peer.PodSelector.MatchLabels, p.labels)) {
			return true
		}
	}
	return false
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, dst pod, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			if n, ok := dst.ports[p.Port.StrVal]; ok && n == port {
				return true
			}
		case p.Port.IntVal == port || (p.EndPort != nil && port >= p.Port.IntVal && port <= *p.EndPort):
			return true
		}
	}
	return false
}

// checkCanaryGatePath: the gate reaches the validator's API and metrics; the gate reaches
// nothing else; and no other pod gains a way to the validator through the gate's rules.
func checkCanaryGatePath(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	nps := m.NetworkPolicies
	if m.Workloads != nil {
		nps = append(append([]networkingv1.NetworkPolicy{}, nps...), m.Workloads.NetworkPolicies...)
	}
	ports := map[string]int32{}
	for _, p := range container(d).Ports {
		ports[p.Name] = p.ContainerPort
	}
	validator := pod{ns: d.Namespace, labels: d.Spec.Template.Labels, ports: ports}
	gate := pod{ns: d.Namespace, labels: map[string]string{"app.kubernetes.io/name": gateName}}
	for _, port := range []int32{httpPort, metricsPort} {
		if !policyAllows(nps, gate, validator, port) {
			errorf(&out, "the canary gate cannot reach the validator's port %d", port)
		}
	}
	// Nothing more: no other port of the validator, no other destination, no other source.
	// The gate's own egress is judged alone: a rule that only another policy's ingress
	// happens to block today is still a rule too wide.
	egress := func(dst pod, port int32) bool {
		return sideAllows(nps, gate, dst, port, networkingv1.PolicyTypeEgress)
	}
	if egress(validator, consoleTestPort) {
		errorf(&out, "the canary gate reaches the validator's port %d", consoleTestPort)
	}
	others := map[string]pod{
		"kube-dns":         {ns: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}},
		"another pod here": {ns: d.Namespace, labels: map[string]string{"app.kubernetes.io/name": "operator-console"}},
		"prometheus":       {ns: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
	}
	for name, dst := range others {
		for _, port := range []int32{53, httpPort, metricsPort, 443} {
			if egress(dst, port) {
				errorf(&out, "the canary gate may connect to %s on port %d", name, port)
			}
		}
	}
	for _, np := range nps {
		if np.Namespace == gate.ns && selects(np.Spec.PodSelector.MatchLabels, gate.labels) {
			for _, r := range np.Spec.Egress {
				for _, p := range r.To {
					if p.IPBlock != nil {
						errorf(&out, "%s: the canary gate may reach no address block (%s)", np.Name, p.IPBlock.CIDR)
					}
				}
			}
		}
	}
	if policyAllows(nps, validator, gate, 8080) || policyAllows(nps, pod{ns: d.Namespace, labels: map[string]string{"app": "any"}}, gate, 8080) {
		errorf(&out, "the canary gate's pods accept connections")
	}
	impostors := map[string]pod{
		"a gate-labelled pod of another namespace": {ns: "payment-gateway", labels: gate.labels},
		"an unlabelled pod of this namespace":      {ns: d.Namespace, labels: map[string]string{"app": "any"}},
	}
	for name, src := range impostors {
		if policyAllows(nps, src, validator, metricsPort) {
			errorf(&out, "%s reaches the validator's metrics", name)
		}
	}
	return out
}
