// Command awsprovider prepares an offline build of the Terraform AWS provider that carries
// only the AWS services this repository's infrastructure uses.
//
// The full provider compiles every one of its ~260 service packages and the AWS SDK client
// of each (~1 CPU-hour, ~9 GB of RAM, a 900 MB binary): more than a fresh CI machine can
// afford next to everything else. Which services are compiled in is decided by two
// generated files only, so rewriting those two files to the services in use gives a
// provider whose schemas for those services are byte-for-byte the upstream ones. A resource
// type of any other service is then unknown to `tofu validate`: a loud error, never a
// silently different result, and `check` catches it earlier still.
//
//	awsprovider trim  -src DIR -services "ec2 eks ..."          # rewrite DIR's generated files
//	awsprovider check -src DIR -services "ec2 eks ..." PATH...  # every aws_* type in PATH is served
//
// DIR is a writable copy of github.com/hashicorp/terraform-provider-aws at the pinned
// version; the service names are the provider's internal/service package names.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "awsprovider:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: awsprovider trim|check -src DIR -services LIST [PATH...]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	src := fs.String("src", "", "a writable copy of the terraform-provider-aws module")
	list := fs.String("services", "", "space-separated internal/service package names to keep")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *src == "" {
		return errors.New("-src is required")
	}
	services := strings.Fields(*list)
	if len(services) == 0 {
		return errors.New("-services is empty")
	}
	switch args[0] {
	case "trim":
		kept, err := Trim(*src, services)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kept %d service packages and %d SDK clients\n", len(services), kept)
		return nil
	case "check":
		if fs.NArg() == 0 {
			return errors.New("check needs at least one path with Terraform files")
		}
		report, err := Check(*src, services, fs.Args())
		if report != "" {
			fmt.Fprint(stdout, report)
		}
		return err
	default:
		return fmt.Errorf("unknown command %q (want trim or check)", args[0])
	}
}
