package idpsettings_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transaction-validator/transaction-validator/kustomize/idpsettings"
)

func valid() idpsettings.Settings {
	return idpsettings.Settings{
		Issuer:                "https://login.acme-payments.eu/oauth2/aus1txvprod",
		AuthorizationEndpoint: "https://login.acme-payments.eu/oauth2/aus1txvprod/v1/authorize",
		TokenEndpoint:         "https://login.acme-payments.eu/oauth2/aus1txvprod/v1/token",
		UserInfoEndpoint:      "https://login.acme-payments.eu/oauth2/aus1txvprod/v1/userinfo",
		ClientID:              "0oa9txvconsoleprod",
		Scope:                 "openid email groups",
		GroupsClaim:           "groups",
		ViewerGroup:           "txv-prod-console-viewers",
		TesterGroup:           "txv-prod-console-testers",
		RedirectURI:           "https://console.txv.acme-payments.eu/oauth2/idpresponse",
	}
}

func TestRenderValid(t *testing.T) {
	doc, _ := json.Marshal(valid())
	out, err := idpsettings.Render(doc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := idpsettings.FromConfigMap(out)
	if err != nil || back != valid() {
		t.Fatalf("round trip: %+v %v\n%s", back, err, out)
	}
	if !strings.Contains(string(out), `config.kubernetes.io/local-config: "true"`) {
		t.Fatalf("not local-config:\n%s", out)
	}
}

// Each placeholder or mistake is refused, naming its setting.
func TestCheckRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		mut  func(*idpsettings.Settings)
		want string
	}{
		"example.com issuer":       {func(s *idpsettings.Settings) { s.Issuer = "https://idp.example.com/oauth2/txv-prod" }, "issuer"},
		"marker":                   {func(s *idpsettings.Settings) { s.TokenEndpoint = "IDP_SETTING_MISSING_token" }, "token_endpoint"},
		".invalid host":            {func(s *idpsettings.Settings) { s.UserInfoEndpoint = "https://idp.invalid/userinfo" }, "user_info_endpoint"},
		"http":                     {func(s *idpsettings.Settings) { s.AuthorizationEndpoint = "http://login.acme-payments.eu/a" }, "authorization_endpoint"},
		"IP address":               {func(s *idpsettings.Settings) { s.Issuer = "https://10.0.0.5/oauth2" }, "issuer"},
		"localhost":                {func(s *idpsettings.Settings) { s.Issuer = "https://localhost/oauth2" }, "issuer"},
		"no client id":             {func(s *idpsettings.Settings) { s.ClientID = "" }, "client_id"},
		"client id placeholder":    {func(s *idpsettings.Settings) { s.ClientID = "CHANGEME" }, "client_id"},
		"no openid scope":          {func(s *idpsettings.Settings) { s.Scope = "email groups" }, "scope"},
		"groups claim placeholder": {func(s *idpsettings.Settings) { s.GroupsClaim = "IDP_SETTING_MISSING_groups_claim" }, "groups_claim"},
		"no viewer group":          {func(s *idpsettings.Settings) { s.ViewerGroup = "" }, "viewer_group"},
		"example tester group":     {func(s *idpsettings.Settings) { s.TesterGroup = "example-testers" }, "tester_group"},
		"one group for both":       {func(s *idpsettings.Settings) { s.TesterGroup = s.ViewerGroup }, "tester_group"},
		"no redirect uri":          {func(s *idpsettings.Settings) { s.RedirectURI = "" }, "redirect_uri"},
		"example redirect host":    {func(s *idpsettings.Settings) { s.RedirectURI = "https://console.txv.example.com/oauth2/idpresponse" }, "redirect_uri"},
		"not the ALB's callback":   {func(s *idpsettings.Settings) { s.RedirectURI = "https://console.txv.acme-payments.eu/callback" }, "redirect_uri"},
		"callback on another port": {func(s *idpsettings.Settings) {
			s.RedirectURI = "https://console.txv.acme-payments.eu:8443/oauth2/idpresponse"
		}, "redirect_uri"},
	} {
		t.Run(name, func(t *testing.T) {
			s := valid()
			c.mut(&s)
			err := idpsettings.Check(s)
			if err == nil || !strings.Contains(err.Error(), c.want+":") {
				t.Fatalf("got %v, want an error naming %s", err, c.want)
			}
		})
	}
	if _, err := idpsettings.Render([]byte(`{"issuer":"https://x.acme.eu","unknown":1}`)); err == nil {
		t.Fatal("an unknown field is accepted")
	}
	if _, err := idpsettings.Render([]byte("\n")); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("empty settings (an unset variable): %v, want an error saying they are not configured", err)
	}
}

// The committed overlays hold example values: they build and are tested, but a deploy
// that did not replace them is refused.
func TestCommittedOverlaysAreRefused(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod"} {
		doc, err := os.ReadFile(filepath.Join("..", "overlays", env, "operator-console-idp.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := idpsettings.FromConfigMap(doc)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if err := idpsettings.Check(s); err == nil || !strings.Contains(err.Error(), "issuer:") {
			t.Errorf("%s: the committed example IdP passes the check (%v)", env, err)
		}
	}
}
