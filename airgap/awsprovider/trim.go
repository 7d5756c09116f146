package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
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
	// namesFile declares the service package names the getters pass to conns.client.
	namesFile = "names/consts_gen.go"
)

var servicePrefix = modulePath + "/internal/service/"

// Trim rewrites the provider source in src so that only the given service packages are
// registered, and only the SDK clients the remaining code calls are imported. It returns
// how many client getters were kept.
//
// It fails, naming the service to add, when the kept code calls the client of a service
// package that is not in services: such a client compiles but panics the first time it is
// called ("unknown service package: elb", from conns.client), which `tofu validate` and
// mocked `tofu test` never do and an apply does.
func Trim(src string, services []string) (int, error) {
	reg := filepath.Join(src, servicePackagesFile)
	trimmed, err := trimmedServicePackages(reg, services)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(reg, trimmed, 0o644); err != nil {
		return 0, err
	}
	used, err := calledMethods(src, nil)
	if err != nil {
		return 0, err
	}
	needs, err := clientNeeds(src, used)
	if err != nil {
		return 0, err
	}
	if err := missingClients(needs, services); err != nil {
		return 0, err
	}
	return trimClients(filepath.Join(src, clientsFile), used)
}

// clientUse is one AWSClient getter the compiled code calls: the service package whose
// client it returns, and where it is first called.
type clientUse struct {
	getter, service, at string
	// external is whether code outside the service's own package calls it: only such a
	// call makes a service worth listing for its client alone.
	external bool
}

// clientNeeds maps every service package whose client a getter in used returns to the
// first such use (preferring one outside that service's own package), taking getters in
// name order so that the report is stable.
func clientNeeds(src string, used map[string][]string) (map[string]clientUse, error) {
	services, err := getterServices(src)
	if err != nil {
		return nil, err
	}
	needs := map[string]clientUse{}
	for _, getter := range slices.Sorted(maps.Keys(services)) {
		uses, ok := used[getter]
		if !ok {
			continue
		}
		svc := services[getter]
		// The caller that explains the need is one outside the client's own package.
		use := clientUse{getter: getter, service: svc, at: uses[0]}
		if i := slices.IndexFunc(uses, func(u string) bool {
			return !strings.HasPrefix(u, "internal/service/"+svc+"/")
		}); i >= 0 {
			use.at, use.external = uses[i], true
		}
		if prev, seen := needs[svc]; !seen || use.external && !prev.external {
			needs[svc] = use
		}
	}
	return needs, nil
}

// missingClients fails, naming each service to add, when a needed client's service
// package is not in services.
func missingClients(needs map[string]clientUse, services []string) error {
	var missing []string
	for _, svc := range slices.Sorted(maps.Keys(needs)) {
		if !slices.Contains(services, svc) {
			missing = append(missing, needs[svc].problem())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the kept code calls SDK clients of service packages the list lacks (each panics at apply):\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

func (u clientUse) problem() string {
	return fmt.Sprintf("AWSClient.%s (%s) needs service package %q: add %s to the list", u.getter, u.at, u.service, u.service)
}

// getterServices maps each AWSClient getter of the clients file to the service package
// name it passes to conns.client (`client[*elb.Client](ctx, c, names.ELB, ...)`), resolved
// through the string constants of names/consts_gen.go. A getter that does not have that
// shape fails the whole run: the rule above would silently stop holding.
func getterServices(src string) (map[string]string, error) {
	consts, err := stringConsts(filepath.Join(src, namesFile))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(src, clientsFile), nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !isAWSClientMethod(fn) {
			continue
		}
		svc := ""
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || svc != "" || len(call.Args) < 3 {
				return true
			}
			if idx, ok := call.Fun.(*ast.IndexExpr); !ok || !isIdent(idx.X, "client") {
				return true
			}
			if sel, ok := call.Args[2].(*ast.SelectorExpr); ok && isIdent(sel.X, "names") {
				svc = consts[sel.Sel.Name]
			}
			return true
		})
		if svc == "" {
			return nil, fmt.Errorf("%s: AWSClient.%s does not call client[T](ctx, c, names.X, ...) with a known names constant; the file's layout changed", clientsFile, fn.Name.Name)
		}
		out[fn.Name.Name] = svc
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no AWSClient methods; the file's layout changed", clientsFile)
	}
	return out, nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// stringConsts returns the string constants declared in file, by name.
func stringConsts(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		gen, ok := d.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, s := range gen.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					break
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						out[name.Name] = v
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s declares no string constants; not the provider's names package", file)
	}
	return out, nil
}

// trimmedServicePackages returns file without the imports and the ServicePackage(ctx)
// entries of every service not in keep, and fails when a service to keep is not registered
// there at all (a typo, or a package the pinned version does not have).
func trimmedServicePackages(file string, keep []string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("%s registers no service package named %s", servicePackagesFile, strings.Join(missing, ", "))
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
		return nil, fmt.Errorf("%s: dropped %d imports but %d ServicePackage(ctx) entries; the file's layout changed", servicePackagesFile, len(drop), removed)
	}
	return formatGo(fset, f, file)
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

// calledMethods maps every selector name used by the provider's own non-test code that the
// binary compiles, except in the clients file itself, to where it is used (relative to
// src; the first use only, except for names ending in Client, whose every use is kept so
// that a report can name a caller outside the client's own package): a superset of the
// client getters that must stay. overlay replaces files (by
// path relative to src) with the given content without writing them, as `go list -overlay`
// does, so that Check can ask about a trimmed provider in the read-only module cache.
// Positions are relative to src.
func calledMethods(src string, overlay map[string][]byte) (map[string][]string, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-deps", "-f",
		`{{if .Module}}{{if eq .Module.Path "` + modulePath + `"}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}{{end}}`}
	replaced := map[string][]byte{}
	if len(overlay) > 0 {
		tmp, err := os.MkdirTemp("", "awsprovider-overlay")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		// The go command refuses to overlay files beneath GOMODCACHE, where Check's src
		// usually is; reached through a symlink outside it, the same files may be.
		link := filepath.Join(tmp, "src")
		if err := os.Symlink(src, link); err != nil {
			return nil, err
		}
		src = link
		spec := struct{ Replace map[string]string }{map[string]string{}}
		for rel, content := range overlay {
			abs, err := filepath.Abs(filepath.Join(src, rel))
			if err != nil {
				return nil, err
			}
			repl := filepath.Join(tmp, strconv.Itoa(len(spec.Replace))+".go")
			if err := os.WriteFile(repl, content, 0o644); err != nil {
				return nil, err
			}
			spec.Replace[abs] = repl
			replaced[abs] = content
		}
		js, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "overlay.json"), js, 0o644); err != nil {
			return nil, err
		}
		args = append(args, "-overlay", filepath.Join(tmp, "overlay.json"))
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps in %s: %v: %s", src, err, strings.TrimSpace(stderr.String()))
	}
	skip := filepath.Join(src, clientsFile)
	used := map[string][]string{}
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
			var content any // nil: read the file
			if abs, err := filepath.Abs(file); err == nil && replaced[abs] != nil {
				content = replaced[abs]
			}
			f, err := parser.ParseFile(fset, file, content, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if _, seen := used[sel.Sel.Name]; !seen || strings.HasSuffix(sel.Sel.Name, "Client") {
						pos := fset.Position(sel.Sel.Pos())
						rel, err := filepath.Rel(src, pos.Filename)
						if err != nil || strings.HasPrefix(rel, "..") {
							rel = pos.Filename
						}
						used[sel.Sel.Name] = append(used[sel.Sel.Name], fmt.Sprintf("%s:%d", filepath.ToSlash(rel), pos.Line))
					}
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
func trimClients(file string, used map[string][]string) (int, error) {
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
			if _, ok := used[fn.Name.Name]; !ok {
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
	out, err := formatGo(fset, f, file)
	if err != nil {
		return 0, err
	}
	return kept, os.WriteFile(file, out, 0o644)
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

func formatGo(fset *token.FileSet, f *ast.File, file string) ([]byte, error) {
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, fmt.Errorf("formatting %s: %w", file, err)
	}
	// Positions of deleted nodes leave blank runs; a second pass through the formatter on
	// the printed text tidies them the way gofmt would.
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("reformatting %s: %w", file, err)
	}
	return out, nil
}
