// operator-console-idp renders an environment's IdP settings (JSON: issuer, the three
// endpoints, client_id, scope, groups_claim, viewer_group, tester_group) into the
// operator-console-idp.yaml its overlay is built with (package idpsettings), refusing
// missing values and placeholders (example.com and the other reserved names,
// IDP_SETTING_MISSING, a tester group equal to the viewer group). With -check FILE it
// checks an existing operator-console-idp.yaml instead (the committed ones fail). The
// deploy runs it before building a staging or prod overlay; by hand:
//
//	go run ./cmd/operator-console-idp < prod-idp.json > overlays/prod/operator-console-idp.yaml
//	go run ./cmd/operator-console-idp -check overlays/prod/operator-console-idp.yaml
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
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: operator-console-idp < idp.json > operator-console-idp.yaml | operator-console-idp -check FILE")
		os.Exit(2)
	}
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "operator-console-idp:", err)
		os.Exit(1)
	}
}

func run(check string) error {
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
	out, err := idpsettings.Render(doc)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
