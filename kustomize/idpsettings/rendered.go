package idpsettings

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// consoleName names the console's Service, Deployment, container and Ingress
// (components/operator-console).
const consoleName = "operator-console"

// albAnnotation prefixes the Load Balancer Controller's annotations.
const albAnnotation = "alb.ingress.kubernetes.io/"

// docSeparator splits `kustomize build` output into its objects.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// rendered is what CheckRendered reads of an object.
type rendered struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		// Ingress.
		DefaultBackend *backend `json:"defaultBackend"`
		Rules          []struct {
			Host string `json:"host"`
			HTTP *struct {
				Paths []struct {
					Backend backend `json:"backend"`
				} `json:"paths"`
			} `json:"http"`
		} `json:"rules"`
		TLS []tlsEntry `json:"tls"`
		// Deployment.
		Template struct {
			Spec struct {
				Containers []struct {
					Name string `json:"name"`
					Env  []struct {
						Name  string `json:"name"`
						Value string `json:"value"`
					} `json:"env"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
		// ExternalSecret.
		Target struct {
			Name     string `json:"name"`
			Template struct {
				Data map[string]string `json:"data"`
			} `json:"template"`
		} `json:"target"`
	} `json:"spec"`
}

type tlsEntry struct {
	Hosts []string `json:"hosts"`
}

type backend struct {
	Service *struct {
		Name string `json:"name"`
	} `json:"service"`
}

// routesToConsole: does any rule of the Ingress send traffic to the console's Service?
func (r *rendered) routesToConsole() bool {
	if b := r.Spec.DefaultBackend; b != nil && b.Service != nil && b.Service.Name == consoleName {
		return true
	}
	for _, rule := range r.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Name == consoleName {
				return true
			}
		}
	}
	return false
}

// CheckRendered checks that manifests (an overlay as `kustomize build` renders it) expose
// the console with s and nothing else: every Ingress routing to the console authenticates
// with OIDC against s's issuer and endpoints and scope, on the host of s's redirect URI
// only (no other Ingress shares it, since the API's rules do not authenticate); the OIDC
// Secret the ALB reads carries s's client id; the console verifies tokens of s's issuer
// with s's groups claim and groups, and its own origin is that host. Check(s) is part of
// it. It returns every problem, or nil.
//
// The component's replacements make this true of any overlay built with the file Render
// writes; the deploy checks it anyway, on what it is about to apply, so that an overlay
// that kept its example file, a patch that overrides a value, or settings registered for
// another host are refused before anything reaches the cluster.
func CheckRendered(s Settings, manifests []byte) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if err := Check(s); err != nil {
		return err
	}
	u, _ := url.Parse(s.RedirectURI)
	host := strings.ToLower(u.Hostname())

	var ingresses, deployments, secrets []*rendered
	for i, doc := range docSeparator.Split(string(manifests), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var r rendered
		if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
			return fmt.Errorf("rendered manifests, object %d: %w", i+1, err)
		}
		switch r.Kind {
		case "Ingress":
			ingresses = append(ingresses, &r)
		case "Deployment":
			deployments = append(deployments, &r)
		case "ExternalSecret":
			secrets = append(secrets, &r)
		}
	}
	if strings.Contains(string(manifests), "IDP_SETTING_MISSING") {
		bad("an IdP setting was not filled in (IDP_SETTING_MISSING): the overlay was not built with these settings")
	}

	var console []*rendered
	for _, ing := range ingresses {
		if ing.routesToConsole() {
			console = append(console, ing)
			continue
		}
		for _, rule := range ing.Spec.Rules {
			if strings.EqualFold(rule.Host, host) {
				bad("Ingress %s serves the console's host %s without authentication", ing.Metadata.Name, host)
			}
		}
	}
	if len(console) == 0 {
		bad("no Ingress routes to the %s Service: nothing these settings apply to", consoleName)
	}
	secretNames := map[string]bool{}
	for _, ing := range console {
		name, a := ing.Metadata.Name, ing.Metadata.Annotations
		if a[albAnnotation+"auth-type"] != "oidc" {
			bad("Ingress %s: auth-type %q, want oidc with this IdP", name, a[albAnnotation+"auth-type"])
			continue
		}
		var idp struct {
			Issuer                string `json:"issuer"`
			AuthorizationEndpoint string `json:"authorizationEndpoint"`
			TokenEndpoint         string `json:"tokenEndpoint"`
			UserInfoEndpoint      string `json:"userInfoEndpoint"`
			SecretName            string `json:"secretName"`
		}
		if err := json.Unmarshal([]byte(a[albAnnotation+"auth-idp-oidc"]), &idp); err != nil {
			bad("Ingress %s: auth-idp-oidc is not JSON: %v", name, err)
			continue
		}
		for _, f := range []struct{ field, got, want string }{
			{"issuer", idp.Issuer, s.Issuer},
			{"authorizationEndpoint", idp.AuthorizationEndpoint, s.AuthorizationEndpoint},
			{"tokenEndpoint", idp.TokenEndpoint, s.TokenEndpoint},
			{"userInfoEndpoint", idp.UserInfoEndpoint, s.UserInfoEndpoint},
		} {
			if f.got != f.want {
				bad("Ingress %s: auth-idp-oidc %s is %q, the settings say %q", name, f.field, f.got, f.want)
			}
		}
		if got := a[albAnnotation+"auth-scope"]; got != s.Scope {
			bad("Ingress %s: auth-scope is %q, the settings say %q", name, got, s.Scope)
		}
		secretNames[idp.SecretName] = true
		if len(ing.Spec.Rules) == 0 || ing.Spec.DefaultBackend != nil {
			bad("Ingress %s: the console must be served on %s only, not as a default backend", name, host)
		}
		for _, rule := range ing.Spec.Rules {
			if !strings.EqualFold(rule.Host, host) {
				bad("Ingress %s serves the console on %q, but the IdP sends operators back to %s (redirect_uri %s)", name, rule.Host, host, s.RedirectURI)
			}
		}
		if !slices.ContainsFunc(ing.Spec.TLS, func(t tlsEntry) bool {
			return slices.ContainsFunc(t.Hosts, func(h string) bool { return strings.EqualFold(h, host) })
		}) {
			bad("Ingress %s: no TLS entry for %s", name, host)
		}
	}

	// The Secret the ALB reads: the client id must be this client's.
	for secret := range secretNames {
		found := false
		for _, es := range secrets {
			if es.Spec.Target.Name != secret {
				continue
			}
			found = true
			if got := es.Spec.Target.Template.Data["clientID"]; got != s.ClientID {
				bad("ExternalSecret %s gives the ALB client id %q, the settings say %q", es.Metadata.Name, got, s.ClientID)
			}
		}
		if !found {
			bad("no ExternalSecret creates the OIDC Secret %q the console's Ingress names", secret)
		}
	}

	// The console's own verifier: the same issuer, the same groups, its own origin.
	var env map[string]string
	for _, d := range deployments {
		if d.Metadata.Name != consoleName {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == consoleName {
				env = map[string]string{}
				for _, e := range c.Env {
					env[e.Name] = e.Value
				}
			}
		}
	}
	if env == nil {
		bad("no Deployment %s with a container %s", consoleName, consoleName)
	} else {
		for _, v := range []struct{ name, want string }{
			{"OIDC_ISSUER", s.Issuer},
			{"OIDC_GROUPS_CLAIM", s.GroupsClaim},
			{"CONSOLE_VIEWER_GROUP", s.ViewerGroup},
			{"CONSOLE_TESTER_GROUP", s.TesterGroup},
			{"CONSOLE_ORIGIN", "https://" + host},
		} {
			if got := env[v.name]; got != v.want {
				bad("the console's %s is %q, want %q", v.name, got, v.want)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("the rendered console does not match the IdP settings:\n  %s", strings.Join(errs, "\n  "))
}
