package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dagger/transaction-validator/internal/dagger"
)

func TestIdPSettingsRequiredButOnLocal(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod"} {
		doc, err := idpSettingsFor(env, nil)
		if doc != nil || err == nil || !strings.Contains(err.Error(), "needs --idp-settings") ||
			!strings.Contains(err.Error(), "nothing was applied") {
			t.Errorf("deploy --env %s without IdP settings: %v, want a refusal asking for --idp-settings", env, err)
		}
	}
	if doc, err := idpSettingsFor("local", nil); doc != nil || err != nil {
		t.Errorf("local without IdP settings: %v, %v; want none and no error (its console is not exposed)", doc, err)
	}
	given := &dagger.File{}
	for _, env := range []string{"local", "dev", "staging", "prod"} {
		if doc, err := idpSettingsFor(env, given); doc != given || err != nil {
			t.Errorf("%s: the settings given were not used: %v, %v", env, doc, err)
		}
	}
}

// firstCalls returns where the Deploy function of deploy.go first calls each function or
// method, by name.
func firstCalls(t *testing.T) (map[string]token.Pos, *token.FileSet) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "deploy.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]token.Pos{}
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Deploy" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch f := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = f.Sel.Name
			case *ast.Ident:
				name = f.Name
			}
			if _, seen := first[name]; name != "" && !seen {
				first[name] = call.Pos()
			}
			return true
		})
		return false
	})
	return first, fset
}

// TestDeployChecksIdPSettingsBeforeTouchingTheCluster: Deploy takes the IdP settings
// (idpSettingsFor, which refuses their absence), renders them before it builds the
// overlay (consoleIdP before renderEnv) and checks the built overlay against them
// (checkConsoleIdP after renderEnv), all before its first call that reaches the cluster.
func TestDeployChecksIdPSettingsBeforeTouchingTheCluster(t *testing.T) {
	first, fset := firstCalls(t)
	for _, order := range [][2]string{
		{"idpSettingsFor", "consoleIdP"},
		{"consoleIdP", "renderEnv"},
		{"renderEnv", "checkConsoleIdP"},
		{"checkConsoleIdP", "kube"},
		{"checkConsoleIdP", "snapshot"},
		{"checkConsoleIdP", "apply"},
		{"checkConsoleIdP", "run"},
	} {
		before, ok := first[order[0]]
		if !ok {
			t.Errorf("Deploy does not call %s", order[0])
			continue
		}
		if after, ok := first[order[1]]; !ok || after < before {
			t.Errorf("Deploy calls %s (%s) before %s (%s)", order[1], fset.Position(after), order[0], fset.Position(before))
		}
	}
}

func TestRenderScriptPutsTheIdPSettingsInPlace(t *testing.T) {
	m := &TransactionValidator{}
	s := m.renderScript("staging", nil, "/out.yaml", true)
	cp := "cp " + idpOutDir + "/staging.yaml /tmp/render/overlays/staging/operator-console-idp.yaml\n"
	build := "kustomize build /tmp/render/overlays/staging"
	if i, j := strings.Index(s, cp), strings.Index(s, build); i < 0 || j < i {
		t.Errorf("render script does not put the IdP settings in place before building:\n%s", s)
	}
	// Render (validation, scanning) builds with the committed examples.
	if s := m.renderScript("staging", nil, "/out.yaml", false); strings.Contains(s, "operator-console-idp") {
		t.Errorf("render script without IdP settings replaces the example:\n%s", s)
	}
}

// TestIdPScriptsRefuseBadSettingsAndAcceptGood runs deploy's two IdP scripts as its
// container does, with cmd/operator-console-idp built from ../kustomize: good settings
// render and their built overlay passes; missing, placeholder and inconsistent settings
// stop the script (which stops the deploy before any kubectl call) with the reason.
func TestIdPScriptsRefuseBadSettingsAndAcceptGood(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(bin, "operator-console-idp"), "./cmd/operator-console-idp")
	build.Dir = filepath.Join("..", "kustomize")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/operator-console-idp: %v\n%s", err, out)
	}
	good, err := os.ReadFile(filepath.Join("..", "kustomize", "testdata", "idp-settings", "staging.json"))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := os.ReadFile(filepath.Join("testdata", "console-rendered-staging.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string) (string, error) {
		cmd := exec.Command("sh", "-ec", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for name, c := range map[string]struct {
		settings string
		// wantRender, wantCheck: what the refusal says at that step; "" for success.
		wantRender, wantCheck string
	}{
		"good":                               {settings: string(good)},
		"not configured (an unset variable)": {settings: "\n", wantRender: "IdP settings: empty (the environment's settings are not configured)"},
		"missing settings": {settings: `{"issuer": "https://login.acme-payments.eu/oauth2/aus1txvstaging"}`,
			wantRender: "client_id: missing"},
		"the committed example IdP": {settings: strings.ReplaceAll(string(good), "login.acme-payments.eu", "idp.example.com"),
			wantRender: "is a placeholder (reserved example or test name)"},
		"a misspelt setting": {settings: strings.Replace(string(good), `"client_id"`, `"clientId"`, 1),
			wantRender: `unknown field "clientId"`},
		"the callback on another host": {settings: strings.ReplaceAll(string(good), "console.staging.txv.acme-payments.eu", "ops.acme-payments.eu"),
			wantCheck: "but the IdP sends operators back to ops.acme-payments.eu"},
		"another issuer than the ALB's": {settings: strings.ReplaceAll(string(good), "aus1txvstaging", "aus1txvprod"),
			wantCheck: "auth-idp-oidc issuer is"},
		"another client than the Secret's": {settings: strings.ReplaceAll(string(good), "0oa9txvconsolestaging", "0oa9txvconsoleprod"),
			wantCheck: "gives the ALB client id"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "settings.json"), []byte(c.settings), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "rendered.yaml"), rendered, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(idpRenderScript(dir, "staging"))
			if c.wantRender != "" {
				if err == nil || !strings.Contains(out, c.wantRender) {
					t.Fatalf("render: %v, want a refusal saying %q:\n%s", err, c.wantRender, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("render refused: %v\n%s", err, out)
			}
			file, err := os.ReadFile(filepath.Join(dir, "out", "staging.yaml"))
			if err != nil || !strings.Contains(string(file), "name: operator-console-idp") {
				t.Fatalf("render wrote no operator-console-idp.yaml (%v):\n%s", err, file)
			}
			out, err = run(idpCheckScript(dir))
			if c.wantCheck == "" {
				if err != nil {
					t.Fatalf("the built overlay was refused: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(out, c.wantCheck) {
				t.Fatalf("check: %v, want a refusal saying %q:\n%s", err, c.wantCheck, out)
			}
		})
	}
}
