package main

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// pipelineModule is the directory of this Dagger module (dagger.json's "source"). The
// engine compiles it on every call; its generated SDK is not in the source the stages
// receive, so go vet and go test cannot load it there.
const pipelineModule = "ci"

// goModules returns the directory of every Go module in the source ("." for the root),
// found by its go.mod, so a module added to the repository is linted and tested without
// editing a list. Left out: the pipeline module and go.mod files in testdata/ or vendor/,
// which are fixtures and copies, not modules of the repository.
func (m *TransactionValidator) goModules(ctx context.Context) ([]string, error) {
	files, err := m.Source.Glob(ctx, "**/go.mod")
	if err != nil {
		return nil, fmt.Errorf("finding go.mod files: %w", err)
	}
	mods := goModuleDirs(files)
	if len(mods) == 0 || mods[0] != "." {
		return nil, fmt.Errorf("no go.mod at the root of the source (found %v)", files)
	}
	for _, d := range mods {
		// The directories go into the stages' shell scripts.
		if !modulePath.MatchString(d) {
			return nil, fmt.Errorf("go module directory %q: only letters, digits and ._/- are allowed", d)
		}
	}
	return mods, nil
}

// modulePath is a directory name a shell script takes literally.
var modulePath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// goModuleDirs turns the paths of go.mod files into the modules' directories, sorted,
// without the pipeline module and fixtures (see goModules).
func goModuleDirs(goModFiles []string) []string {
	var dirs []string
	for _, f := range goModFiles {
		f = strings.TrimPrefix(f, "./")
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		parts := strings.Split(dir, "/")
		if dir == pipelineModule || strings.HasPrefix(dir, pipelineModule+"/") {
			continue
		}
		fixture := false
		for _, p := range parts {
			if p == "testdata" || p == "vendor" {
				fixture = true
			}
		}
		if !fixture {
			dirs = append(dirs, dir)
		}
	}
	sort.Strings(dirs)
	return dirs
}
