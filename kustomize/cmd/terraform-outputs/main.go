// terraform-outputs writes an overlay's terraform-outputs.yaml from `tofu output -json`, so
// the deploy job fills the manifests from Terraform's real values instead of the committed
// placeholders:
//
//	tofu -chdir=infra/envs/prod output -json |
//	  go run ./cmd/terraform-outputs -api-hostname api.example.com -vpc-cidr 10.30.0.0/16 \
//	    -database-url-secret-name transaction-validator/prod/database-url \
//	    > overlays/prod/terraform-outputs.yaml
//
// The three flags are values infra/ does not output today (see
// components/terraform-outputs/README.md). A missing or null output is an error that names
// it: a half-filled file would deploy placeholders.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/transaction-validator/transaction-validator/kustomize/tfoutputs"
)

func main() {
	apiHost := flag.String("api-hostname", "", "DNS name the Ingress serves (the ACM certificate's domain)")
	vpcCIDR := flag.String("vpc-cidr", "", "the environment's vpc_cidr (infra/envs/ENV/terraform.tfvars)")
	dbSecret := flag.String("database-url-secret-name", "", "Secrets Manager secret holding DATABASE_URL")
	flag.Parse()
	out, err := tfoutputs.Generate(os.Stdin, *apiHost, *vpcCIDR, *dbSecret)
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-outputs:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}
