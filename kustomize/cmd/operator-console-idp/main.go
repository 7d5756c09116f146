// operator-console-idp renders an environment's IdP settings (JSON: issuer, the three
// endpoints, client_id, scope, groups_claim, viewer_group, tester_group, redirect_uri)
// into the operator-console-idp.yaml its overlay is built with (package idpsettings),
// refusing missing values and placeholders (example.com and the other reserved names,
// IDP_SETTING_MISSING, a tester group equal to the viewer group, a redirect URI that is
// not the ALB's callback). With -check FILE it checks an existing
// operator-console-idp.yaml instead (the committed ones fail). With -rendered FILE it
// checks the overlay built with the settings (kustomize build output) against them
// (idpsettings.CheckRendered): same issuer, endpoints, scope, client id and groups
// everywhere, the console on the redirect URI's host only.
//
// The pipeline's deploy (ci/idp.go) runs it twice on the settings it is given (--idp-settings),
// before the first kubectl call: to render the file, then on the built overlay. By hand:
//
//	go run ./cmd/operator-console-idp < prod-idp.json > overlays/prod/operator-console-idp.yaml
//	go run ./cmd/operator-console-idp -check overlays/prod/operator-console-idp.yaml
//	kustomize build overlays/prod > /tmp/prod.yaml
//	go run ./cmd/operator-console-idp -rendered /tmp/prod.yaml < prod-idp.json
//
// Exit status 1, with every problem on stderr, when the settings are not deployable.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/transaction-validator/transaction-validator/kustomize/idpsettings"
)

func main() {
	check := flag.String("check", "", "check this operator-console-idp.yaml instead of rendering one")
	rendered := flag.String("rendered", "", "check this built overlay against the settings on stdin instead of rendering")
	flag.Parse()
	if flag.NArg() != 0 || (*check != "" && *rendered != "") {
		fmt.Fprintln(os.Stderr, "usage: operator-console-idp < idp.json > operator-console-idp.yaml | operator-console-idp -check FILE | operator-console-idp -rendered FILE < idp.json")
		os.Exit(2)
	}
	if err := run(*check, *rendered); err != nil {
		fmt.Fprintln(os.Stderr, "operator-console-idp:", err)
		os.Exit(1)
	}
}

func run(check, rendered string) error {
	if check != "" {
		doc, err := os.ReadFile(check)
		if err != nil {
			return err
		}
		s, err := idpsettings.FromConfigMap(doc)
		if err != nil {
			return fmt.Errorf("%s: %w", check, err)
		}
		if err := idpsettings.Check(s); err != nil {
			return fmt.Errorf("%s: %w", check, err)
		}
		return nil
	}
	doc, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	if rendered != "" {
		s, err := idpsettings.Parse(doc)
		if err != nil {
			return err
		}
		manifests, err := os.ReadFile(rendered)
		if err != nil {
			return err
		}
		return idpsettings.CheckRendered(s, manifests)
	}
	out, err := idpsettings.Render(doc)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
