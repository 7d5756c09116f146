package pins

import (
	"encoding/json"
	"go/version"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoFile is the path of a file of the repository, from this test's directory.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(rel))
}

// versionsEnv returns airgap/versions.env, read the way the pipeline reads it.
func versionsEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(repoFile(t, "airgap/versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnv(string(raw))
	if err != nil {
		t.Fatalf("airgap/versions.env: %v", err)
	}
	return env
}

// TestDaggerVersionHasOneSource checks every place that names the Dagger version against
// DAGGER_VERSION in airgap/versions.env: the engine dagger.json asks for (which also picks
// the Go SDK the engine generates for the module) and the CLI each workflow installs.
func TestDaggerVersionHasOneSource(t *testing.T) {
	want := versionsEnv(t)["DAGGER_VERSION"]
	if !strings.HasPrefix(want, "v") {
		t.Fatalf("DAGGER_VERSION=%q, want vX.Y.Z", want)
	}
	var module struct{ EngineVersion string }
	raw, err := os.ReadFile(repoFile(t, "dagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &module); err != nil {
		t.Fatalf("dagger.json: %v", err)
	}
	if module.EngineVersion != want {
		t.Errorf("dagger.json engineVersion %q, airgap/versions.env DAGGER_VERSION %q", module.EngineVersion, want)
	}

	workflows, _ := filepath.Glob(repoFile(t, ".github/workflows/*.yml"))
	if len(workflows) == 0 {
		t.Fatal("no workflows found")
	}
	for _, path := range workflows {
		checkWorkflowDaggerVersion(t, path, strings.TrimPrefix(want, "v"))
	}
}

// checkWorkflowDaggerVersion checks that a workflow names the Dagger version once, in its
// env (DAGGER_VERSION, which dagger-for-github wants without the v), and that every step
// installing the CLI takes it from there. A workflow whose jobs only call this repository's
// reusable workflows (infra.yml) installs nothing itself and must not name a version: the
// called workflows are checked here like any other.
func checkWorkflowDaggerVersion(t *testing.T, path, want string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]string
		Jobs map[string]struct {
			Uses  string
			Env   map[string]string
			Steps []struct {
				Name string
				Uses string
				With map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	name := filepath.Base(path)
	installs, calls := 0, 0
	for job, j := range wf.Jobs {
		if j.Uses != "" {
			if !strings.HasPrefix(j.Uses, "./.github/workflows/") {
				t.Errorf("%s: job %s calls %s: only this repository's reusable workflows are checked here", name, job, j.Uses)
			}
			calls++
		}
		if _, ok := j.Env["DAGGER_VERSION"]; ok {
			t.Errorf("%s: job %s sets its own DAGGER_VERSION", name, job)
		}
		for _, s := range j.Steps {
			if !strings.HasPrefix(s.Uses, "dagger/dagger-for-github@") {
				continue
			}
			installs++
			if v := s.With["version"]; v != "${{ env.DAGGER_VERSION }}" {
				t.Errorf("%s: job %s step %q installs Dagger version %q, want ${{ env.DAGGER_VERSION }}", name, job, s.Name, v)
			}
		}
	}
	if installs > 0 && wf.Env["DAGGER_VERSION"] != want {
		t.Errorf("%s: env DAGGER_VERSION %q, airgap/versions.env says %s", name, wf.Env["DAGGER_VERSION"], want)
	}
	switch {
	case installs == 0 && calls == len(wf.Jobs) && calls > 0:
		if _, ok := wf.Env["DAGGER_VERSION"]; ok {
			t.Errorf("%s: only calls reusable workflows, yet sets DAGGER_VERSION (a second copy)", name)
		}
	case installs == 0:
		t.Errorf("%s: no step installs Dagger (dagger/dagger-for-github)", name)
	}
}

// goDirective and toolchainDirective find a go.mod's go and toolchain lines.
var (
	goDirective        = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)
	toolchainDirective = regexp.MustCompile(`(?m)^toolchain\s+(\S+)\s*$`)
)

// TestGoVersionHasOneSource checks the Go toolchain of the pipeline's golang image against
// GO_VERSION, and that no Go module of the repository needs a newer Go than that (with
// GOTOOLCHAIN=local a newer go line fails the build).
func TestGoVersionHasOneSource(t *testing.T) {
	want := versionsEnv(t)["GO_VERSION"]
	if want == "" {
		t.Fatal("airgap/versions.env has no GO_VERSION")
	}
	if want != GoVersion {
		t.Errorf("ci/pins GoVersion %q, airgap/versions.env GO_VERSION %q", GoVersion, want)
	}
	root := repoFile(t, ".")
	mods := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() != "go.mod" {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mods++
		rel, _ := filepath.Rel(root, path)
		goLine := goDirective.FindSubmatch(raw)
		if goLine == nil {
			t.Errorf("%s has no go line", rel)
		} else if version.Compare("go"+string(goLine[1]), "go"+want) > 0 {
			t.Errorf("%s needs go %s, newer than GO_VERSION %s", rel, goLine[1], want)
		}
		if tc := toolchainDirective.FindSubmatch(raw); tc != nil && version.Compare(string(tc[1]), "go"+want) > 0 {
			t.Errorf("%s asks for toolchain %s, newer than GO_VERSION %s", rel, tc[1], want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if mods < 3 {
		t.Errorf("found only %d go.mod files", mods)
	}
}

// daggerVersionInDocs finds the ways the documentation names a Dagger version: the cache
// directory, module paths, the pin itself, the SDK runtime image, "engine **vX.Y.Z**".
var daggerVersionInDocs = regexp.MustCompile(`(?:dagger-|dagger@|DAGGER_VERSION=|go-sdk-runtime:|engine \*\*)(v[0-9]+\.[0-9]+\.[0-9]+)`)

// TestDocsNameTheDaggerVersion checks that every Markdown file naming a Dagger version
// names DAGGER_VERSION: instructions with an old version are instructions that fail.
func TestDocsNameTheDaggerVersion(t *testing.T) {
	want := versionsEnv(t)["DAGGER_VERSION"]
	root := repoFile(t, ".")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".md") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for i, line := range strings.Split(string(raw), "\n") {
			for _, m := range daggerVersionInDocs.FindAllStringSubmatch(line, -1) {
				found++
				if m[1] != want {
					t.Errorf("%s:%d names Dagger %s, airgap/versions.env DAGGER_VERSION=%s: %s", rel, i+1, m[1], want, m[0])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Error("no Markdown file names the Dagger version: the pattern no longer matches the docs")
	}
}
