package kustomize

// Rules of the operator console (components/operator-console): scaling, probes, spread,
// its ExternalSecret and its Ingress on the validator's ALB.

import (
	"os"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func checkConsoleScaling(_ env, m *manifests) (out []string) {
	w := m.Workloads
	d := consoleDeployment(w)
	if d == nil {
		return []string{"no console Deployment"}
	}
	if d.Spec.Replicas != nil {
		errorf(&out, "console Deployment sets replicas; the HPA owns the count")
	}
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.String() != "0" {
		errorf(&out, "console rollingUpdate.maxUnavailable must be 0")
	}
	hpaOK := false
	for _, h := range w.HPAs {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == consoleName {
			hpaOK = h.Spec.MinReplicas != nil && *h.Spec.MinReplicas >= 2 && h.Spec.MaxReplicas >= *h.Spec.MinReplicas
		}
	}
	if !hpaOK {
		errorf(&out, "console needs an HPA with minReplicas >= 2 (a node or zone loss must not take it away)")
	}
	pdbOK := false
	for _, p := range w.PDBs {
		if p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			pdbOK = p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.String() == "1" && p.Spec.MinAvailable == nil
		}
	}
	if !pdbOK {
		errorf(&out, "console needs a PodDisruptionBudget with maxUnavailable 1 selecting its pods")
	}
	return out
}

// consoleRoutes: the paths the console serves, read from its source, so a probe can only
// name an endpoint that exists.
func consoleRoutes() (string, error) {
	b, err := os.ReadFile("../svc/internal/console/console.go")
	return string(b), err
}

func checkConsoleProbes(_ env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	if c == nil {
		return []string{"no console container"}
	}
	src, err := consoleRoutes()
	if err != nil {
		return []string{err.Error()}
	}
	var port int32 = -1
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p.ContainerPort
		}
	}
	for _, w := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/livez"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if w.probe == nil || w.probe.HTTPGet == nil {
			errorf(&out, "console %s must be an HTTP GET of %s", w.kind, w.path)
			continue
		}
		if w.probe.HTTPGet.Path != w.path || !strings.Contains(src, `"GET `+w.path+`"`) {
			errorf(&out, "console %s path %q: want %s, which svc/internal/console serves", w.kind, w.probe.HTTPGet.Path, w.path)
		}
		if resolvePort(c, w.probe.HTTPGet.Port) != port {
			errorf(&out, "console %s must probe the http port", w.kind)
		}
	}
	return out
}

func checkConsoleSpread(e env, m *manifests) (out []string) {
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return []string{"no console Deployment"}
	}
	// Zone spread (maxSkew 1, DoNotSchedule) and node anti-affinity, as the validator; a
	// required anti-affinity and minDomains are the validator's HA component's business.
	return checkSpread(env{name: e.name}, &manifests{Deployments: []appsv1.Deployment{*d}})
}

func checkConsoleSecret(_ env, m *manifests) (out []string) {
	w := m.Workloads
	d := consoleDeployment(w)
	if d == nil {
		return []string{"no console Deployment"}
	}
	var es, store map[string]any
	for _, o := range w.Custom["ExternalSecret"] {
		if str(path(o, "metadata", "name")) == consoleName {
			es = o
		}
	}
	for _, o := range w.Custom["SecretStore"] {
		if str(path(o, "metadata", "name")) == consoleName {
			store = o
		}
	}
	if c := workloadContainer(consoleName, &d.Spec.Template); c != nil && iamLogin(c) {
		// components/database-iam: DATABASE_URL was the ExternalSecret's only key and
		// infra's iam mode creates no such secret; the SecretStore stays for the IdP
		// client's secret.
		if es != nil {
			errorf(&out, "console logs in with IAM but still has ExternalSecret %s", consoleName)
		}
		if store == nil {
			return append(out, "console needs its own SecretStore")
		}
		if str(path(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")) != consoleName {
			errorf(&out, "console SecretStore must authenticate as the console's own ServiceAccount")
		}
		// What is left in the store is the IdP client's secret, for the ALB.
		for _, o := range w.Custom["ExternalSecret"] {
			if name := str(path(o, "metadata", "name")); name == consoleName+"-oidc" {
				var got []string
				data, _ := path(o, "spec", "data").([]any)
				for _, item := range data {
					im, _ := item.(map[string]any)
					got = append(got, str(im["secretKey"]))
				}
				if !slices.Equal(got, []string{"clientSecret"}) {
					errorf(&out, "console ExternalSecret %s must produce exactly clientSecret, produces %v", name, got)
				}
			}
		}
		for _, ev := range c.Env {
			if ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil {
				errorf(&out, "console env %s refers to Secret %s; with IAM logins it needs none", ev.Name, ev.ValueFrom.SecretKeyRef.Name)
			}
		}
		return append(out, checkIAMDatabaseURL(consoleName, c, "operator_console")...)
	}
	if es == nil || store == nil {
		return []string{"console needs its own ExternalSecret and SecretStore"}
	}
	if str(path(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")) != consoleName {
		errorf(&out, "console SecretStore must authenticate as the console's own ServiceAccount")
	}
	if str(path(es, "spec", "secretStoreRef", "name")) != consoleName {
		errorf(&out, "console ExternalSecret must use the console's SecretStore")
	}
	target := str(path(es, "spec", "target", "name"))
	produced := map[string]bool{}
	data, _ := path(es, "spec", "data").([]any)
	for _, item := range data {
		im, _ := item.(map[string]any)
		produced[str(im["secretKey"])] = true
		if !strings.Contains(str(path(im, "remoteRef", "key")), "operator_console") {
			errorf(&out, "console ExternalSecret reads %q; only the operator_console database URL", str(path(im, "remoteRef", "key")))
		}
	}
	if !produced["DATABASE_URL"] || len(produced) != 1 {
		errorf(&out, "console ExternalSecret must produce exactly DATABASE_URL, produces %v", keys(produced))
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	for _, ev := range c.Env {
		if ev.ValueFrom == nil || ev.ValueFrom.SecretKeyRef == nil {
			if ev.Name == "DATABASE_URL" {
				errorf(&out, "console DATABASE_URL must come from its ExternalSecret, not a literal")
			}
			continue
		}
		if ref := ev.ValueFrom.SecretKeyRef; ref.Name != target || !produced[ref.Key] {
			errorf(&out, "console env %s refers to %s/%s, which its ExternalSecret does not produce", ev.Name, ref.Name, ref.Key)
		}
	}
	return out
}

// albWide: annotations that configure the whole ALB; every Ingress of a group must agree.
var albWide = []string{
	"alb.ingress.kubernetes.io/scheme", "alb.ingress.kubernetes.io/listen-ports",
	"alb.ingress.kubernetes.io/ssl-redirect", "alb.ingress.kubernetes.io/certificate-arn",
	"alb.ingress.kubernetes.io/ssl-policy", "alb.ingress.kubernetes.io/wafv2-acl-arn",
	"alb.ingress.kubernetes.io/security-groups", "alb.ingress.kubernetes.io/load-balancer-attributes",
	"alb.ingress.kubernetes.io/target-type",
}

func checkConsoleIngress(_ env, m *manifests) (out []string) {
	var ci *networkingv1.Ingress
	for i := range m.Workloads.Ingresses {
		if m.Workloads.Ingresses[i].Name == consoleName {
			ci = &m.Workloads.Ingresses[i]
		}
	}
	if ci == nil || len(m.Ingresses) != 1 {
		return []string{"want the console's Ingress and the validator's"}
	}
	vi := m.Ingresses[0]
	g := "alb.ingress.kubernetes.io/group.name"
	if ci.Annotations[g] == "" || ci.Annotations[g] != vi.Annotations[g] {
		errorf(&out, "console and validator Ingresses must share one ALB: same %s, have %q and %q", g, ci.Annotations[g], vi.Annotations[g])
	}
	for _, a := range albWide {
		if ci.Annotations[a] != vi.Annotations[a] {
			errorf(&out, "%s differs between the console (%q) and the validator (%q): one ALB, one WAF, one TLS policy", a, ci.Annotations[a], vi.Annotations[a])
		}
	}
	if ci.Spec.IngressClassName == nil || *ci.Spec.IngressClassName != "alb" {
		errorf(&out, "console Ingress must use IngressClass alb")
	}
	// Its own host: the API's host has no authentication rule (console_auth_test.go).
	if len(ci.Spec.Rules) != 1 || len(vi.Spec.Rules) != 1 || ci.Spec.Rules[0].Host == vi.Spec.Rules[0].Host {
		errorf(&out, "console Ingress must serve one host of its own, not the API's")
	}
	for _, r := range ci.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if !strings.HasPrefix(p.Path, "/console/") {
				errorf(&out, "console Ingress exposes %q; only /console/ (probes stay internal)", p.Path)
			}
			if p.Backend.Service == nil || p.Backend.Service.Name != consoleName || p.Backend.Service.Port.Name != "http" {
				errorf(&out, "console Ingress path %s must go to Service %s port http", p.Path, consoleName)
			}
		}
	}
	return out
}
