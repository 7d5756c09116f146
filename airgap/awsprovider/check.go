package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// typeBlocks are the block types whose first label names a provider's resource or data
// source type: in configurations (resource, data, ephemeral; data also nests in check
// blocks) and in tests and mock files (mock_resource, mock_data inside mock_provider).
var typeBlocks = map[string]bool{
	"resource": true, "data": true, "ephemeral": true,
	"mock_resource": true, "mock_data": true,
}

// Check maps every aws_* type the Terraform files under paths use to the service package
// that serves it, and fails when a type's service is not in services, when the provider
// trimmed to services would call the SDK client of a service package not in services (it
// panics at apply, as Trim also refuses), or when a listed service is needed for neither:
// the list stays exactly what the configuration needs. The report lists each service with
// the types it serves, and each service needed only for its client with the getter that
// calls it. src is not modified: the trimmed registration is given to `go list` as an
// overlay.
func Check(src string, services, paths []string) (string, error) {
	owner, err := typeOwners(src)
	if err != nil {
		return "", err
	}
	reg, err := trimmedServicePackages(filepath.Join(src, servicePackagesFile), services)
	if err != nil {
		return "", err
	}
	called, err := calledMethods(src, map[string][]byte{servicePackagesFile: reg})
	if err != nil {
		return "", err
	}
	needs, err := clientNeeds(src, called)
	if err != nil {
		return "", err
	}
	used, err := usedTypes(paths)
	if err != nil {
		return "", err
	}
	if len(used) == 0 {
		return "", fmt.Errorf("no aws_* resource or data source types under %s", strings.Join(paths, " "))
	}
	byService := map[string][]string{}
	var problems, clientNotes []string
	for _, t := range slices.Sorted(maps.Keys(used)) {
		svc, ok := owner[t]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (%s) is not a type of the pinned provider", t, used[t]))
		case !slices.Contains(services, svc):
			problems = append(problems, fmt.Sprintf("%s (%s) is served by service %q, which the list lacks", t, used[t], svc))
		default:
			byService[svc] = append(byService[svc], t)
		}
	}
	if err := missingClients(needs, services); err != nil {
		problems = append(problems, err.Error())
	}
	for _, svc := range services {
		if _, ok := byService[svc]; ok {
			continue
		}
		if use, ok := needs[svc]; ok && use.external {
			clientNotes = append(clientNotes, fmt.Sprintf("%-16s client only: AWSClient.%s (%s)\n", svc, use.getter, use.at))
			continue
		}
		problems = append(problems, fmt.Sprintf("service %q serves none of the types in use and no kept code calls its client; drop it from the list", svc))
	}
	var b strings.Builder
	for _, svc := range slices.Sorted(maps.Keys(byService)) {
		fmt.Fprintf(&b, "%-16s %s\n", svc, strings.Join(byService[svc], " "))
	}
	b.WriteString(strings.Join(clientNotes, ""))
	if len(problems) > 0 {
		return b.String(), fmt.Errorf("the AWS service list does not match the configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return b.String(), nil
}

var typeNameRE = regexp.MustCompile(`TypeName:\s+"(aws_[a-z0-9_]+)"`)

// typeOwners reads every service package's generated registration file and maps each type
// name it registers to the package.
func typeOwners(src string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(src, "internal", "service", "*", "service_package_gen.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no internal/service/*/service_package_gen.go: not the provider's source", src)
	}
	owner := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		svc := filepath.Base(filepath.Dir(f))
		for _, m := range typeNameRE.FindAllSubmatch(data, -1) {
			owner[string(m[1])] = svc
		}
	}
	return owner, nil
}

// usedTypes returns the aws_* types used under paths, each with the first place it is used.
func usedTypes(paths []string) (map[string]string, error) {
	used := map[string]string{}
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".terraform" {
					return filepath.SkipDir
				}
				return nil
			}
			if !isTerraformFile(d.Name()) {
				return nil
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
			if diags.HasErrors() {
				return diags
			}
			walkBlocks(f.Body.(*hclsyntax.Body), func(b *hclsyntax.Block) {
				if typeBlocks[b.Type] && len(b.Labels) > 0 && strings.HasPrefix(b.Labels[0], "aws_") {
					if _, seen := used[b.Labels[0]]; !seen {
						used[b.Labels[0]] = fmt.Sprintf("%s:%d", p, b.DefRange().Start.Line)
					}
				}
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return used, nil
}

func isTerraformFile(name string) bool {
	for _, ext := range []string{".tf", ".tftest.hcl", ".tfmock.hcl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func walkBlocks(body *hclsyntax.Body, visit func(*hclsyntax.Block)) {
	for _, b := range body.Blocks {
		visit(b)
		walkBlocks(b.Body, visit)
	}
}
