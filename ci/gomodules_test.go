package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGoModuleDirs(t *testing.T) {
	got := goModuleDirs([]string{
		"go.mod", "kustomize/go.mod", "kustomize/otelcol/go.mod", "ci/go.mod",
		"ci/sub/go.mod", "svc/internal/x/testdata/mod/go.mod", "vendor/a/go.mod",
		"airgap/awsprovider/go.mod", "./airgap/new/go.mod", "notes/go.mod.txt",
	})
	want := []string{".", "airgap/awsprovider", "airgap/new", "kustomize", "kustomize/otelcol"}
	if !slices.Equal(got, want) {
		t.Errorf("goModuleDirs = %v, want %v", got, want)
	}
}

// TestGoModulesOfThisRepository walks the checkout: lint and the module tests cover every
// module it holds, among them the two a hand-kept list once missed.
func TestGoModulesOfThisRepository(t *testing.T) {
	var files []string
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			rel, _ := filepath.Rel("..", p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mods := goModuleDirs(files)
	for _, want := range []string{".", "kustomize", "kustomize/otelcol", "airgap/awsprovider", "airgap/k8sschema", "airgap/dagger"} {
		if !slices.Contains(mods, want) {
			t.Errorf("goModuleDirs misses %s (found %v)", want, mods)
		}
	}
	if slices.Contains(mods, pipelineModule) {
		t.Errorf("goModuleDirs lists the pipeline module %s", pipelineModule)
	}
	if _, err := os.Stat("../" + pipelineModule + "/go.mod"); err != nil {
		t.Errorf("pipelineModule %q has no go.mod: %v", pipelineModule, err)
	}
}
