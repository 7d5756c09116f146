// Package idpsettings turns an environment's IdP settings (JSON, from the deploy's
// configuration) into the operator-console-idp.yaml its overlay is built with
// (components/operator-console reads it through replacements): the issuer and endpoints
// the ALB authenticates operators against, the client id, the scope, the groups claim
// and the viewer and tester groups, and the redirect URI registered with the IdP.
//
// CheckRendered then holds the built overlay to the same settings: the console's Ingress,
// its OIDC Secret and its own identity verifier must all name this IdP and this client,
// on the host the IdP sends operators back to.
//
// As with tfoutputs, every value is checked before anything is written, and a
// placeholder is an error naming the setting: the committed overlays hold example.com
// values so that they build and their rules can be tested, and a deploy that still
// carries one must stop before it applies a console pointing at an IdP nobody runs.
package idpsettings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Settings are one environment's IdP settings, as the deploy's configuration gives them.
type Settings struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserInfoEndpoint      string `json:"user_info_endpoint"`
	ClientID              string `json:"client_id"`
	Scope                 string `json:"scope"`
	GroupsClaim           string `json:"groups_claim"`
	ViewerGroup           string `json:"viewer_group"`
	TesterGroup           string `json:"tester_group"`
	// RedirectURI is the callback registered with the IdP for this client: the ALB's
	// fixed https://CONSOLE_HOST/oauth2/idpresponse. The component does not need it (the
	// ALB derives it from the request's host); the deploy checks it against the console's
	// host, since an IdP that sends operators elsewhere makes sign-in fail or, worse,
	// hands the authorization code to another host.
	RedirectURI string `json:"redirect_uri"`
}

// albCallbackPath is the path the ALB receives the IdP's authorization code on (fixed by
// AWS: "Authenticate users using an Application Load Balancer", prepare to use an
// OIDC-compliant IdP).
const albCallbackPath = "/oauth2/idpresponse"

// placeholderHost: the names RFC 2606 and RFC 6761 reserve for examples and tests,
// which no IdP is reachable at.
var placeholderHost = regexp.MustCompile(`(^|\.)(example\.(com|net|org)|example|invalid|test|localhost|local)$`)

// placeholderText: the markers the component and the overlays use for a value not yet
// filled in, and the usual stand-ins.
var placeholderText = regexp.MustCompile(`(?i)IDP_SETTING_MISSING|TF_OUTPUT_MISSING|changeme|placeholder|example|xxx|todo`)

// claimName is a JWT claim name as IdPs spell them (groups, cognito:groups, a URL-like
// custom claim is not accepted: the console reads a top-level claim).
var claimName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:.-]{0,63}$`)

// groupName: what IdPs allow in a group name, bounded.
var groupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.@:/-]{0,127}$`)

// clientID: OAuth client ids are opaque but printable and short.
var clientID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{2,127}$`)

// Check returns every problem with s, each naming its setting; nil when s is deployable.
func Check(s Settings) error {
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	checkURL("issuer", s.Issuer, bad)
	for name, v := range map[string]string{"authorization_endpoint": s.AuthorizationEndpoint,
		"token_endpoint": s.TokenEndpoint, "user_info_endpoint": s.UserInfoEndpoint} {
		checkURL(name, v, bad)
	}
	switch {
	case s.ClientID == "":
		bad("client_id", "missing")
	case placeholderText.MatchString(s.ClientID):
		bad("client_id", "%q is a placeholder", s.ClientID)
	case !clientID.MatchString(s.ClientID):
		bad("client_id", "%q is not an OAuth client id", s.ClientID)
	}
	if !strings.Contains(" "+s.Scope+" ", " openid ") {
		bad("scope", "%q must include openid", s.Scope)
	}
	switch {
	case s.GroupsClaim == "":
		bad("groups_claim", "missing")
	case placeholderText.MatchString(s.GroupsClaim) || !claimName.MatchString(s.GroupsClaim):
		bad("groups_claim", "%q is not a claim name", s.GroupsClaim)
	}
	for name, g := range map[string]string{"viewer_group": s.ViewerGroup, "tester_group": s.TesterGroup} {
		switch {
		case g == "":
			bad(name, "missing")
		case placeholderText.MatchString(g):
			bad(name, "%q is a placeholder", g)
		case !groupName.MatchString(g):
			bad(name, "%q is not a group name", g)
		}
	}
	if checkURL("redirect_uri", s.RedirectURI, bad) {
		u, _ := url.Parse(s.RedirectURI)
		if u.Path != albCallbackPath || (u.Port() != "" && u.Port() != "443") {
			bad("redirect_uri", "%q must be https://CONSOLE_HOST%s, the ALB's callback", s.RedirectURI, albCallbackPath)
		}
	}
	if s.ViewerGroup != "" && s.ViewerGroup == s.TesterGroup {
		bad("tester_group", "the same group as viewer_group: every viewer could submit test transactions")
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("IdP settings not deployable:\n  %s", strings.Join(errs, "\n  "))
}

// checkURL reports a setting that is not an https URL of a real host; it returns whether
// the URL passed.
func checkURL(name, v string, bad func(string, string, ...any)) bool {
	if v == "" {
		bad(name, "missing")
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		bad(name, "%q must be an https URL without credentials, query or fragment", v)
		return false
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case placeholderHost.MatchString(host) || strings.Contains(v, "IDP_SETTING_MISSING"):
		bad(name, "%q is a placeholder (reserved example or test name)", v)
	case net.ParseIP(host) != nil:
		bad(name, "%q: an IdP is addressed by name (its certificate), not by IP", v)
	case !strings.Contains(host, "."):
		bad(name, "%q: not a fully qualified host name", v)
	default:
		return true
	}
	return false
}

// Render checks the settings (JSON) and returns operator-console-idp.yaml: a ConfigMap
// marked local-config, which the component's replacements read and kustomize never emits.
func Render(doc []byte) ([]byte, error) {
	s, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	if err := Check(s); err != nil {
		return nil, err
	}
	cm := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "operator-console-idp",
			"annotations": map[string]string{"config.kubernetes.io/local-config": "true"}},
		"data": map[string]string{
			"issuer": s.Issuer, "authorization_endpoint": s.AuthorizationEndpoint, "token_endpoint": s.TokenEndpoint,
			"user_info_endpoint": s.UserInfoEndpoint, "client_id": s.ClientID, "scope": s.Scope,
			"groups_claim": s.GroupsClaim, "viewer_group": s.ViewerGroup, "tester_group": s.TesterGroup,
			"redirect_uri": s.RedirectURI,
		},
	}
	out, err := yaml.Marshal(cm)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Rendered by cmd/operator-console-idp from the deploy's IdP settings; a build input, never committed.\n"), out...), nil
}

// Parse reads the settings (JSON) strictly: an unknown field is an error, so a misspelt
// setting cannot pass as a missing one nobody notices.
func Parse(doc []byte) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(doc)) == 0 {
		// What an unset configuration variable gives: say so, not "EOF".
		return Settings{}, fmt.Errorf("IdP settings: empty (the environment's settings are not configured)")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("IdP settings: %w", err)
	}
	return s, nil
}

// FromConfigMap reads the settings back from an operator-console-idp.yaml, so a build can
// check the file its overlay holds (the committed example values fail).
func FromConfigMap(doc []byte) (Settings, error) {
	var cm struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(doc, &cm); err != nil {
		return Settings{}, err
	}
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != "operator-console-idp" {
		return Settings{}, fmt.Errorf("not the operator-console-idp ConfigMap")
	}
	raw, _ := json.Marshal(cm.Data)
	var s Settings
	err := json.Unmarshal(raw, &s)
	return s, err
}
