// terraform-outputs renders an environment's `tofu output -json` into the
// terraform-outputs.yaml its overlay is built with (package tfoutputs), refusing missing
// outputs and placeholders. The pipeline's deploy runs it on the outputs it is given, then
// builds the overlay; by hand:
//
//	tofu -chdir=infra/envs init -backend-config=prod.s3.tfbackend
//	tofu -chdir=infra/envs output -json > /tmp/prod-outputs.json
//	go run ./cmd/terraform-outputs -account 123456789012 < /tmp/prod-outputs.json \
//	  > overlays/prod/terraform-outputs.yaml   # a build input, never committed
//
// Exit status 1, with every problem on stderr, when the outputs are not deployable.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/transaction-validator/transaction-validator/kustomize/tfoutputs"
)

func main() {
	account := flag.String("account", "", "AWS account id the environment lives in; every ARN must be in it (optional: without it the ARNs must agree on one account)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: terraform-outputs [-account ID] < tofu-output.json > terraform-outputs.yaml")
		os.Exit(2)
	}
	doc, err := io.ReadAll(os.Stdin)
	if err == nil {
		var out []byte
		if out, err = tfoutputs.Render(doc, tfoutputs.Options{Account: *account}); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-outputs:", err)
		os.Exit(1)
	}
}
