package kustomize

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/transaction-validator/transaction-validator/kustomize/idpsettings"
)

// The deploy renders an overlay's operator-console-idp.yaml from the environment's IdP
// settings and then holds the built overlay to them (idpsettings.CheckRendered, run by
// ci/idp.go). These tests build the real overlays as the deploy does, from
// testdata/idp-settings/ENV.json (settings in the shape an environment's configuration
// holds), and show the check passing on them and catching each way the built console can
// disagree with its settings.

// idpFixture reads testdata/idp-settings/ENV.json.
func idpFixture(t *testing.T, env string) (idpsettings.Settings, []byte) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", "idp-settings", env+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := idpsettings.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return s, doc
}

// idpOverlay is a copy of renderRoot in which overlay env serves the console on
// consoleHost and, when idpDoc is given, holds the operator-console-idp.yaml the deploy
// renders from it; it returns the overlay's directory.
func idpOverlay(t *testing.T, env, consoleHost string, idpDoc []byte) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(renderRoot)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "overlays", env)
	hosts := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ingress-hosts\n"+
		"  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"+
		"data:\n  api_hostname: api.%s.txv.acme-payments.eu\n  console_hostname: %s\n", env, consoleHost)
	if err := os.WriteFile(filepath.Join(dir, "ingress-hosts.yaml"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	if idpDoc != nil {
		out, err := idpsettings.Render(idpDoc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "operator-console-idp.yaml"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func redirectHost(t *testing.T, s idpsettings.Settings) string {
	t.Helper()
	u, err := url.Parse(s.RedirectURI)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

func TestRenderedConsoleMatchesItsIdPSettings(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			s, doc := idpFixture(t, env)
			out, err := build(idpOverlay(t, env, redirectHost(t, s), doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := idpsettings.CheckRendered(s, out); err != nil {
				t.Fatalf("the overlay built with its own IdP settings is refused: %v", err)
			}
		})
	}
}

// addPatch appends a strategic-merge patch to the overlay's kustomization.yaml.
func addPatch(t *testing.T, dir, patch string) {
	t.Helper()
	file := filepath.Join(dir, "kustomization.yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	patches, _ := k["patches"].([]any)
	k["patches"] = append(patches, map[string]any{"patch": patch})
	out, err := yaml.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRenderedConsoleIdPCheckCatchesMismatches(t *testing.T) {
	const env = "staging"
	for name, c := range map[string]struct {
		// build returns the overlay directory and the settings the deploy was given.
		build func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings)
		want  string
	}{
		"the committed example IdP file kept": {func(t *testing.T, s idpsettings.Settings, _ []byte) (string, idpsettings.Settings) {
			return idpOverlay(t, env, redirectHost(t, s), nil), s
		}, "auth-idp-oidc issuer is \"https://idp.example.com/oauth2/txv-staging\""},
		"the IdP sends operators to another host": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			dir := idpOverlay(t, env, redirectHost(t, s), doc)
			s.RedirectURI = "https://ops.acme-payments.eu/oauth2/idpresponse"
			return dir, s
		}, "but the IdP sends operators back to ops.acme-payments.eu"},
		"the console host left at the example": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			return idpOverlay(t, env, "console.staging.txv.example.com", doc), s
		}, "serves the console on \"console.staging.txv.example.com\""},
		"the ALB's client is another one": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			dir := idpOverlay(t, env, redirectHost(t, s), doc)
			s.ClientID = "0oa9txvconsoleother"
			return dir, s
		}, "gives the ALB client id \"0oa9txvconsolestaging\", the settings say \"0oa9txvconsoleother\""},
		"a patch points the console at another issuer": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			dir := idpOverlay(t, env, redirectHost(t, s), doc)
			addPatch(t, dir, `apiVersion: apps/v1
kind: Deployment
metadata: {name: operator-console, namespace: transaction-validator}
spec:
  template:
    spec:
      containers:
        - name: operator-console
          env:
            - {name: OIDC_ISSUER, value: "https://login.other-idp.eu/oauth2/x"}
`)
			return dir, s
		}, "the console's OIDC_ISSUER is \"https://login.other-idp.eu/oauth2/x\""},
		"the API served on the console's host": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			dir := idpOverlay(t, env, redirectHost(t, s), doc)
			hosts := filepath.Join(dir, "ingress-hosts.yaml")
			raw, err := os.ReadFile(hosts)
			if err != nil {
				t.Fatal(err)
			}
			shared := strings.Replace(string(raw), "api.staging.txv.acme-payments.eu", redirectHost(t, s), 1)
			if err := os.WriteFile(hosts, []byte(shared), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir, s
		}, "Ingress transaction-validator serves the console's host console.staging.txv.acme-payments.eu without authentication"},
		"a patch narrows the scope": {func(t *testing.T, s idpsettings.Settings, doc []byte) (string, idpsettings.Settings) {
			dir := idpOverlay(t, env, redirectHost(t, s), doc)
			addPatch(t, dir, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: operator-console
  namespace: transaction-validator
  annotations: {alb.ingress.kubernetes.io/auth-scope: "openid email"}
`)
			return dir, s
		}, "auth-scope is \"openid email\""},
	} {
		t.Run(name, func(t *testing.T) {
			s, doc := idpFixture(t, env)
			dir, given := c.build(t, s, doc)
			out, err := build(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = idpsettings.CheckRendered(given, out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %s", err, c.want)
			}
		})
	}
}
