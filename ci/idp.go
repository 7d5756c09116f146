package main

import (
	"context"
	"errors"
	"fmt"

	"dagger/transaction-validator/internal/dagger"
)

// How the operator console's IdP settings reach a deploy. The ALB authenticates operators
// with the company IdP (components/operator-console); the committed overlays hold
// idp.example.com examples in operator-console-idp.yaml, so that they build and their
// rules are tested. Deploy is given the environment's settings (--idp-settings, JSON, see
// kustomize/idpsettings) and, before the first kubectl call:
//
//  1. renders them into the overlay's operator-console-idp.yaml with
//     cmd/operator-console-idp, which refuses a missing setting, a placeholder (a reserved
//     example or test host, IDP_SETTING_MISSING, changeme...), plain http, a scope without
//     openid, one group for viewers and testers, a redirect URI that is not the ALB's
//     callback;
//  2. builds the overlay with it (renderEnv);
//  3. runs the same command with -rendered on the built overlay: every Ingress routing to
//     the console authenticates with exactly these issuer, endpoints and scope, only on
//     the redirect URI's host; the Secret the ALB reads has this client id; the console
//     verifies this issuer with these groups, its origin that host.
//
// The checks are kustomize/idpsettings' (one implementation): the ci module runs its
// command in the golang image, as it runs cmd/terraform-outputs (outputs.go), since its
// own go.mod does not require the kustomize module.

// idpDir holds, in the IdP container, the settings (settings.json), the rendered file
// (out/OVERLAY.yaml) and the built overlay to check (rendered.yaml).
const idpDir = "/run/idp"

// idpOutDir is where a render container holds the rendered operator-console-idp.yaml
// files, as OVERLAY.yaml (renderScript).
const idpOutDir = "/run/idp-settings"

// idpSettingsFor returns the IdP settings document a deploy of env renders the console
// with: the one given; for "local" none, and the dev overlay's examples stay. The
// throwaway cluster (airgap/k8s) has no Load Balancer Controller and no IdP: its
// console Ingress exposes nothing, and its console verifies tokens of an issuer no ALB
// signs for, so it fails closed. Settings given for "local" are checked and used like
// any other environment's.
func idpSettingsFor(env string, given *dagger.File) (*dagger.File, error) {
	if given != nil || env == "local" {
		return given, nil
	}
	return nil, fmt.Errorf("deploy --env %s needs --idp-settings: the operator console's IdP settings (JSON: issuer, authorization_endpoint, token_endpoint, user_info_endpoint, client_id, scope, groups_claim, viewer_group, tester_group, redirect_uri; kustomize/idpsettings), nothing was applied: without them the console would ship with the overlay's example IdP (idp.example.com)", env)
}

// idpRenderScript renders dir/settings.json into dir/out/OVERLAY.yaml. dir is quoted: the
// tests run it in a temporary directory named after the test.
func idpRenderScript(dir, overlay string) string {
	return fmt.Sprintf("mkdir -p '%[1]s/out'\noperator-console-idp < '%[1]s/settings.json' > '%[1]s/out/%[2]s.yaml'\n", dir, overlay)
}

// idpCheckScript checks the built overlay dir/rendered.yaml against dir/settings.json.
func idpCheckScript(dir string) string {
	return fmt.Sprintf("operator-console-idp -rendered '%[1]s/rendered.yaml' < '%[1]s/settings.json'\n", dir)
}

// idpTool is the golang image with cmd/operator-console-idp built onto its PATH.
func (m *TransactionValidator) idpTool(settings *dagger.File) *dagger.Container {
	return m.goEnv().WithWorkdir("/src/kustomize").
		WithExec([]string{"go", "build", "-o", "/usr/local/bin/operator-console-idp", "./cmd/operator-console-idp"}).
		WithMountedFile(idpDir+"/settings.json", settings)
}

// consoleIdP renders the settings into the overlay's operator-console-idp.yaml, returned
// as OVERLAY.yaml in a directory (mounted at idpOutDir by renderEnv). Settings it refuses
// are an error carrying every reason.
func (m *TransactionValidator) consoleIdP(ctx context.Context, overlay string, settings *dagger.File) (*dagger.Directory, error) {
	c := m.idpTool(settings).WithExec([]string{"sh", "-ec", idpRenderScript(idpDir, overlay)})
	if _, err := c.Sync(ctx); err != nil {
		return nil, idpError("the operator console's IdP settings are not deployable", err)
	}
	return c.Directory(idpDir + "/out"), nil
}

// checkConsoleIdP checks the built overlay against the settings it was built with.
func (m *TransactionValidator) checkConsoleIdP(ctx context.Context, settings *dagger.File, manifests string) error {
	c := m.idpTool(settings).
		WithNewFile(idpDir+"/rendered.yaml", manifests).
		WithExec([]string{"sh", "-ec", idpCheckScript(idpDir)})
	if _, err := c.Sync(ctx); err != nil {
		return idpError("the rendered operator console does not match its IdP settings", err)
	}
	return nil
}

// idpError words a failed IdP step: the command's own reasons when it ran and refused.
func idpError(what string, err error) error {
	var exit *dagger.ExecError
	if errors.As(err, &exit) {
		return fmt.Errorf("%s, nothing was applied:\n%s", what, tail(exit.Stderr, 40))
	}
	return fmt.Errorf("%s: %w", what, err)
}
