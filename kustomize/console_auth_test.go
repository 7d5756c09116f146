package kustomize

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// The operator console is reachable only through the ALB's OIDC authentication, on a
// host of its own, and the console itself is configured to verify the identity the ALB
// signs (svc/internal/albauth), with no way around it.

const albAnn = "alb.ingress.kubernetes.io/"

// routesToConsole: does any rule of ing send traffic to the console's Service?
func routesToConsole(ing *networkingv1.Ingress) bool {
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil && b.Service.Name == consoleName {
		return true
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Name == consoleName {
				return true
			}
		}
	}
	return false
}

func ingressHosts(ing *networkingv1.Ingress) []string {
	var hosts []string
	for _, r := range ing.Spec.Rules {
		hosts = append(hosts, r.Host)
	}
	return hosts
}

// idpOIDC is the auth-idp-oidc annotation.
type idpOIDC struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	UserInfoEndpoint      string `json:"userInfoEndpoint"`
	SecretName            string `json:"secretName"`
}

var (
	consoleALBARN = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/([A-Za-z0-9-]{1,32})(/[0-9a-f]+)?$`)
	// Names a switch that would turn verification off or point it elsewhere.
	bypassEnv = regexp.MustCompile(`INSECURE|BYPASS|NO_AUTH|SKIP_AUTH|DISABLE_AUTH|AUTH_DISABLED|DEV_MODE|ALB_PUBLIC_KEYS_URL`)
)

func checkConsoleAuth(m *manifests) (out []string) {
	all := append(append([]networkingv1.Ingress{}, m.Ingresses...), m.Workloads.Ingresses...)
	var consoleHosts, otherHosts []string
	var console *networkingv1.Ingress
	for i := range all {
		ing := &all[i]
		if !routesToConsole(ing) {
			otherHosts = append(otherHosts, ingressHosts(ing)...)
			continue
		}
		consoleHosts = append(consoleHosts, ingressHosts(ing)...)
		if ing.Name == consoleName {
			console = ing
		}
		a := ing.Annotations
		if t := a[albAnn+"auth-type"]; t != "oidc" && t != "cognito" {
			errorf(&out, "Ingress %s routes to the console without ALB authentication (auth-type %q)", ing.Name, t)
		}
		if a[albAnn+"auth-on-unauthenticated-request"] != "authenticate" {
			errorf(&out, "Ingress %s: auth-on-unauthenticated-request must be authenticate, is %q", ing.Name, a[albAnn+"auth-on-unauthenticated-request"])
		}
		if !slices.Contains(strings.Fields(a[albAnn+"auth-scope"]), "openid") {
			errorf(&out, "Ingress %s: auth-scope %q must include openid", ing.Name, a[albAnn+"auth-scope"])
		}
		if s, err := strconv.Atoi(a[albAnn+"auth-session-timeout"]); err != nil || s <= 0 || s > 86400 {
			errorf(&out, "Ingress %s: auth-session-timeout %q must be set, at most a day (the ALB's default is 7 days)", ing.Name, a[albAnn+"auth-session-timeout"])
		}
		for _, h := range ingressHosts(ing) {
			if h == "" {
				errorf(&out, "Ingress %s: a rule without a host sends every host's traffic to the console", ing.Name)
			}
		}
	}
	for _, h := range consoleHosts {
		if slices.Contains(otherHosts, h) {
			errorf(&out, "the console shares host %s with the API (whose rules do not authenticate)", h)
		}
	}
	if console == nil {
		return append(out, "no Ingress "+consoleName)
	}
	var idp idpOIDC
	if console.Annotations[albAnn+"auth-type"] == "oidc" {
		if err := json.Unmarshal([]byte(console.Annotations[albAnn+"auth-idp-oidc"]), &idp); err != nil {
			errorf(&out, "auth-idp-oidc is not JSON: %v", err)
		}
		for name, u := range map[string]string{"issuer": idp.Issuer, "authorizationEndpoint": idp.AuthorizationEndpoint,
			"tokenEndpoint": idp.TokenEndpoint, "userInfoEndpoint": idp.UserInfoEndpoint} {
			if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
				errorf(&out, "auth-idp-oidc %s %q must be an https URL", name, u)
			}
		}
		if !externalSecretTargets(m)[idp.SecretName] {
			errorf(&out, "auth-idp-oidc secretName %q is not a Secret an ExternalSecret produces", idp.SecretName)
		}
	}

	// The console's side: it verifies what the ALB signs, against the same IdP and ALB.
	d := consoleDeployment(m.Workloads)
	if d == nil {
		return append(out, "no console Deployment")
	}
	c := workloadContainer(consoleName, &d.Spec.Template)
	if c == nil {
		return append(out, "no console container")
	}
	env := map[string]string{}
	for _, ev := range c.Env {
		env[ev.Name] = ev.Value
		if bypassEnv.MatchString(ev.Name) {
			errorf(&out, "console env %s would weaken or redirect identity verification", ev.Name)
		}
	}
	for _, name := range []string{"OIDC_ISSUER", "OIDC_GROUPS_CLAIM", "CONSOLE_VIEWER_GROUP", "CONSOLE_TESTER_GROUP", "ALB_ARNS", "CONSOLE_ORIGIN"} {
		if env[name] == "" {
			errorf(&out, "console env %s is not set", name)
		}
	}
	if idp.Issuer != "" && env["OIDC_ISSUER"] != idp.Issuer {
		errorf(&out, "console OIDC_ISSUER %q differs from the ALB's IdP issuer %q", env["OIDC_ISSUER"], idp.Issuer)
	}
	if env["CONSOLE_VIEWER_GROUP"] != "" && env["CONSOLE_VIEWER_GROUP"] == env["CONSOLE_TESTER_GROUP"] {
		errorf(&out, "viewer and tester groups are the same (%s): every viewer could submit", env["CONSOLE_VIEWER_GROUP"])
	}
	albName := console.Annotations[albAnn+"load-balancer-name"]
	for _, arn := range strings.Split(env["ALB_ARNS"], ",") {
		if mm := consoleALBARN.FindStringSubmatch(arn); mm == nil || mm[1] != albName {
			errorf(&out, "console ALB_ARNS entry %q must be the group's ALB (named %q by load-balancer-name)", arn, albName)
		}
	}
	for _, ing := range m.Ingresses {
		if ing.Annotations[albAnn+"group.name"] == console.Annotations[albAnn+"group.name"] &&
			ing.Annotations[albAnn+"load-balancer-name"] != albName {
			errorf(&out, "Ingress %s names the group's ALB %q, the console %q", ing.Name, ing.Annotations[albAnn+"load-balancer-name"], albName)
		}
	}
	if len(console.Spec.Rules) == 1 && env["CONSOLE_ORIGIN"] != "https://"+console.Spec.Rules[0].Host {
		errorf(&out, "console CONSOLE_ORIGIN %q must be https://%s, its Ingress host", env["CONSOLE_ORIGIN"], console.Spec.Rules[0].Host)
	}
	if strings.Contains(string(m.raw), "IDP_SETTING_MISSING") {
		errorf(&out, "an IdP setting was not filled in (overlay's operator-console-idp.yaml)")
	}
	return out
}

// externalSecretTargets: the Secrets the ExternalSecrets create.
func externalSecretTargets(m *manifests) map[string]bool {
	out := map[string]bool{}
	for _, w := range []*manifests{m, m.Workloads} {
		for _, es := range w.Custom["ExternalSecret"] {
			out[str(path(es, "spec", "target", "name"))] = true
		}
	}
	return out
}

func TestConsoleIsAuthenticated(t *testing.T) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			for _, v := range checkConsoleAuth(render(t, filepath.Join("overlays", e.name))) {
				t.Error(v)
			}
		})
	}
}

// Each case breaks the console's authentication in the rendered prod manifests, the way
// a careless edit could, and expects the rule to object.
func TestConsoleAuthRuleCatchesMutations(t *testing.T) {
	raw, err := build(filepath.Join("overlays", envs[len(envs)-1].name))
	if err != nil {
		t.Fatal(err)
	}
	consoleIng := func(m *manifests) *networkingv1.Ingress {
		for i := range m.Workloads.Ingresses {
			if m.Workloads.Ingresses[i].Name == consoleName {
				return &m.Workloads.Ingresses[i]
			}
		}
		t.Fatal("no console Ingress")
		return nil
	}
	setEnv := func(m *manifests, name, value string) {
		c := workloadContainer(consoleName, &consoleDeployment(m.Workloads).Spec.Template)
		for i := range c.Env {
			if c.Env[i].Name == name {
				if value == "" {
					c.Env = slices.Delete(c.Env, i, i+1)
				} else {
					c.Env[i].Value = value
				}
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	for name, mutate := range map[string]func(*manifests){
		"no auth-type":            func(m *manifests) { delete(consoleIng(m).Annotations, albAnn+"auth-type") },
		"unauthenticated allowed": func(m *manifests) { consoleIng(m).Annotations[albAnn+"auth-on-unauthenticated-request"] = "allow" },
		"no session timeout":      func(m *manifests) { delete(consoleIng(m).Annotations, albAnn+"auth-session-timeout") },
		"idp not JSON":            func(m *manifests) { consoleIng(m).Annotations[albAnn+"auth-idp-oidc"] = "{" },
		"idp secret nobody creates": func(m *manifests) {
			consoleIng(m).Annotations[albAnn+"auth-idp-oidc"] = strings.Replace(consoleIng(m).Annotations[albAnn+"auth-idp-oidc"], "operator-console-oidc", "nope", 1)
		},
		"console on the API host": func(m *manifests) { consoleIng(m).Spec.Rules[0].Host = m.Ingresses[0].Spec.Rules[0].Host },
		"console host-less":       func(m *manifests) { consoleIng(m).Spec.Rules[0].Host = "" },
		"API Ingress routes to the console": func(m *manifests) {
			r := &m.Ingresses[0].Spec.Rules[0]
			p := consoleIng(m).Spec.Rules[0].HTTP.Paths[0]
			r.HTTP.Paths = append(r.HTTP.Paths, p)
		},
		"no issuer env":  func(m *manifests) { setEnv(m, "OIDC_ISSUER", "") },
		"issuer differs": func(m *manifests) { setEnv(m, "OIDC_ISSUER", "https://other.example.com") },
		"no ALB_ARNS":    func(m *manifests) { setEnv(m, "ALB_ARNS", "") },
		"ALB_ARNS another ALB": func(m *manifests) {
			setEnv(m, "ALB_ARNS", "arn:aws:elasticloadbalancing:eu-central-1:000000000000:loadbalancer/app/other")
		},
		"origin not the host":    func(m *manifests) { setEnv(m, "CONSOLE_ORIGIN", "https://api.txv.example.com") },
		"same viewer and tester": func(m *manifests) { setEnv(m, "CONSOLE_TESTER_GROUP", "txv-prod-console-viewers") },
		"keys from elsewhere":    func(m *manifests) { setEnv(m, "ALB_PUBLIC_KEYS_URL", "http://attacker.example") },
		"a bypass switch":        func(m *manifests) { setEnv(m, "CONSOLE_INSECURE_NO_AUTH", "1") },
		"validator ALB renamed":  func(m *manifests) { m.Ingresses[0].Annotations[albAnn+"load-balancer-name"] = "x" },
	} {
		t.Run(name, func(t *testing.T) {
			m, err := decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if v := checkConsoleAuth(m); len(v) > 0 {
				t.Fatalf("unmutated prod already fails: %v", v)
			}
			mutate(m)
			if len(checkConsoleAuth(m)) == 0 {
				t.Fatal("the rule did not object")
			}
		})
	}
}

// The renderer builds the console's ALB_ARNS from the environment's account (the one
// its ARNs share), region and cluster name.
func TestGeneratorConsoleValues(t *testing.T) {
	out := generated(t)
	for _, want := range []string{
		`console_alb_arn: "arn:aws:elasticloadbalancing:eu-central-1:777788889999:loadbalancer/app/tv-prod"`,
		`alb_name: "tv-prod"`,
		`secret_names_operator_console_oidc: "transaction-validator/prod/operator-console-oidc"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("generated file lacks %s", want)
		}
	}
}
