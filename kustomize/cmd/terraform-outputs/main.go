// terraform-outputs writes an overlay's terraform-outputs.yaml from `tofu output -json`, so
// the deploy job fills the manifests from Terraform's real values instead of the committed
// placeholders:
//
//	tofu -chdir=infra/envs init -backend-config=prod.s3.tfbackend
//	tofu -chdir=infra/envs output -json |
//	  go run ./cmd/terraform-outputs -api-hostname api.example.com -console-hostname console.example.com \
//	  > overlays/prod/terraform-outputs.yaml
//
// The flags are the two values infra/ does not output (see components/terraform-outputs/README.md).
// A missing or null output is an error that names it: a half-filled file would deploy
// placeholders.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/transaction-validator/transaction-validator/kustomize/tfoutputs"
)

func main() {
	apiHost := flag.String("api-hostname", "", "DNS name the Ingress serves (the ACM certificate's domain)")
	consoleHost := flag.String("console-hostname", "", "DNS name of the operator console (its own, on the same ALB; the certificate must cover it)")
	flag.Parse()
	out, err := tfoutputs.Generate(os.Stdin, *apiHost, *consoleHost)
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-outputs:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}
