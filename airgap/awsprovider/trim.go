package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	modulePath = "github.com/hashicorp/terraform-provider-aws"
	// servicePackagesFile registers every service package with the provider; it is the only
	// non-test file outside internal/service that imports them.
	servicePackagesFile = "internal/provider/sdkv2/service_packages_gen.go"
	// clientsFile has one AWSClient getter per AWS SDK client, and so imports every client.
	clientsFile = "internal/conns/awsclient_gen.go"
)

var servicePrefix = modulePath + "/internal/service/"

// Trim rewrites the provider source in src so that only the given service packages are
// registered, and only the SDK clients the remaining code calls are imported. It returns
// how many client getters were kept.
func Trim(src string, services []string) (int, error) {
	if err := trimServicePackages(filepath.Join(src, servicePackagesFile), services); err != nil {
		return 0, err
	}
	used, err := calledMethods(src)
	if err != nil {
		return 0, err
	}
	return trimClients(filepath.Join(src, clientsFile), used)
}

// trimServicePackages drops the imports and the ServicePackage(ctx) entries of every service
// not in keep, and fails when a service to keep is not registered there at all (a typo, or
// a package the pinned version does not have).
func trimServicePackages(file string, keep []string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	drop := map[string]bool{} // import name -> dropped
	found := map[string]bool{}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		if !strings.HasPrefix(p, servicePrefix) {
			continue
		}
		if svc := strings.TrimPrefix(p, servicePrefix); slices.Contains(keep, svc) {
			found[svc] = true
		} else {
			drop[importName(spec, p)] = true
		}
	}
	var missing []string
	for _, svc := range keep {
		if !found[svc] {
			missing = append(missing, svc)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s registers no service package named %s", servicePackagesFile, strings.Join(missing, ", "))
	}
	removeImportSpecs(f, func(spec *ast.ImportSpec) bool {
		p, _ := strconv.Unquote(spec.Path.Value)
		return strings.HasPrefix(p, servicePrefix) && drop[importName(spec, p)]
	})
	removed := 0
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		elts := lit.Elts[:0]
		for _, e := range lit.Elts {
			if pkg := servicePackageCall(e); pkg != "" && drop[pkg] {
				removed++
				continue
			}
			elts = append(elts, e)
		}
		lit.Elts = elts
		return true
	})
	if removed != len(drop) {
		return fmt.Errorf("%s: dropped %d imports but %d ServicePackage(ctx) entries; the file's layout changed", servicePackagesFile, len(drop), removed)
	}
	return writeGo(fset, f, file)
}

// servicePackageCall returns X for an expression X.ServicePackage(ctx), else "".
func servicePackageCall(e ast.Expr) string {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "ServicePackage" {
		return ""
	}
	if id, ok := sel.X.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// calledMethods lists every selector name used by the provider's own non-test code that the
// binary now compiles, except in the clients file itself: a superset of the client getters
// that must stay.
func calledMethods(src string) (map[string]bool, error) {
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if eq .Module.Path "`+modulePath+`"}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}{{end}}`, ".")
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps in %s: %v: %s", src, err, strings.TrimSpace(stderr.String()))
	}
	skip := filepath.Join(src, clientsFile)
	used := map[string]bool{}
	fset := token.NewFileSet()
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			file := filepath.Join(fields[0], name)
			if sameFile(file, skip) {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					used[sel.Sel.Name] = true
				}
				return true
			})
		}
	}
	if len(used) == 0 {
		return nil, errors.New("go list -deps found none of the provider's own packages")
	}
	return used, nil
}

func sameFile(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

// trimClients removes the AWSClient methods of file that are not in used, then the imports
// nothing refers to any more.
func trimClients(file string, used map[string]bool) (int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return 0, err
	}
	kept, getters := 0, 0
	decls := f.Decls[:0]
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && isAWSClientMethod(fn) {
			getters++
			if !used[fn.Name.Name] {
				continue
			}
			kept++
		}
		decls = append(decls, d)
	}
	if getters == 0 {
		return 0, fmt.Errorf("%s has no AWSClient methods; the file's layout changed", clientsFile)
	}
	f.Decls = decls
	refs := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				refs[id.Name] = true
			}
		}
		return true
	})
	removeImportSpecs(f, func(spec *ast.ImportSpec) bool {
		p, _ := strconv.Unquote(spec.Path.Value)
		name := importName(spec, p)
		return name != "_" && name != "." && !refs[name]
	})
	return kept, writeGo(fset, f, file)
}

func isAWSClientMethod(fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return false
	}
	star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "AWSClient"
}

// importName is the name an import is referred to by: its alias, or the last element of its
// path (true of every import these generated files have).
func importName(spec *ast.ImportSpec, p string) string {
	if spec.Name != nil {
		return spec.Name.Name
	}
	return path.Base(p)
}

// removeImportSpecs deletes the import specs for which drop is true from f's import decls.
func removeImportSpecs(f *ast.File, drop func(*ast.ImportSpec) bool) {
	imports := f.Imports[:0]
	for _, spec := range f.Imports {
		if !drop(spec) {
			imports = append(imports, spec)
		}
	}
	f.Imports = imports
	for _, d := range f.Decls {
		gen, ok := d.(*ast.GenDecl)
		if !ok || gen.Tok != token.IMPORT {
			continue
		}
		specs := gen.Specs[:0]
		for _, s := range gen.Specs {
			if !drop(s.(*ast.ImportSpec)) {
				specs = append(specs, s)
			}
		}
		gen.Specs = specs
	}
}

func writeGo(fset *token.FileSet, f *ast.File, file string) error {
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return fmt.Errorf("formatting %s: %w", file, err)
	}
	// Positions of deleted nodes leave blank runs; a second pass through the formatter on
	// the printed text tidies them the way gofmt would.
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return fmt.Errorf("reformatting %s: %w", file, err)
	}
	return os.WriteFile(file, out, 0o644)
}
