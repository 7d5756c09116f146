package main

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"dagger/transaction-validator/pins"
)

// randomFrom returns n characters of alphabet drawn at random. The keys these tests plant
// are made up when they run: a key-shaped string committed here would be reported by the
// scans of this repository, this file included.
func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// awsKeyPair returns a made-up AWS access key id and secret access key of the real shapes.
func awsKeyPair() (id, secret string) {
	return "AKIA" + randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
		randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", 40)
}

// gitleaksReportFixture is a gitleaks JSON report as gitleaks v8.30.1 writes it, one
// finding in the tree and one in a commit; the first with its secret and match
// unredacted: the gate must print neither, whatever the report holds.
func gitleaksReportFixture(keyID string) string {
	return `[
 {"RuleID": "aws-access-token", "Description": "AWS", "StartLine": 6, "EndLine": 6, "StartColumn": 24, "EndColumn": 43,
  "Match": "awsAccessKeyID     = \"` + keyID + `\"", "Secret": "` + keyID + `",
  "File": "svc/internal/x/y_test.go", "SymlinkFile": "", "Commit": "", "Entropy": 3.9,
  "Author": "", "Email": "", "Date": "", "Message": "", "Tags": [], "Fingerprint": "svc/internal/x/y_test.go:aws-access-token:6"},
 {"RuleID": "private-key", "Description": "Private Key", "StartLine": 3, "EndLine": 8, "StartColumn": 1, "EndColumn": 25,
  "Match": "REDACTED", "Secret": "REDACTED", "File": "seeded/key_test.go", "SymlinkFile": "",
  "Commit": "0123456789abcdef0123456789abcdef01234567", "Entropy": 5.1, "Author": "a", "Email": "a@b", "Date": "2026-12-07T11:00:00Z",
  "Message": "add a key", "Tags": [], "Fingerprint": "0123456789abcdef0123456789abcdef01234567:seeded/key_test.go:private-key:3"}
]`
}

func TestGitleaksFindingsNameRuleFileLineNeverTheSecret(t *testing.T) {
	keyID, _ := awsKeyPair()
	got, err := gitleaksFindings("history", []byte(gitleaksReportFixture(keyID)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gitleaks history: aws-access-token svc/internal/x/y_test.go:6",
		"gitleaks history: private-key seeded/key_test.go:3 (commit 0123456789ab)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%q\nwant\n%q", got, want)
	}
	for _, line := range got {
		if strings.Contains(line, keyID) || strings.Contains(line, "REDACTED") {
			t.Errorf("a finding repeats the secret or its match: %s", line)
		}
	}
	if got, err := gitleaksFindings("tree", []byte("[]")); err != nil || len(got) != 0 {
		t.Errorf("an empty report: %q, %v", got, err)
	}
	// A report that is not gitleaks' (a crash's output, an older format) fails the gate
	// instead of passing as "no findings".
	for _, bad := range []string{"", "null garbage", `{"Results": []}`} {
		if _, err := gitleaksFindings("tree", []byte(bad)); err == nil {
			t.Errorf("report %q accepted", bad)
		}
	}
}

func TestGitleaksArgs(t *testing.T) {
	args := gitleaksArgs("dir", "/reports/gitleaks-tree.json", ".")
	for _, want := range [][]string{
		{"--config", gitleaksConfigPath},
		{"--ignore-gitleaks-allow"},
		{"--redact"},
		{"--exit-code", "0"},
		{"--report-format", "json", "--report-path", "/reports/gitleaks-tree.json"},
	} {
		i := slices.Index(args, want[0])
		if i < 0 || i+len(want) > len(args) || !slices.Equal(args[i:i+len(want)], want) {
			t.Errorf("gitleaks command line %q lacks %q", args, want)
		}
	}
	if args[0] != "gitleaks" || args[1] != "dir" || args[len(args)-1] != "." {
		t.Errorf("gitleaks command line %q: want gitleaks dir ... <source>", args)
	}
}

func TestSecretsBaseRef(t *testing.T) {
	for _, ok := range []string{"origin/main", "main", "HEAD~3", "e9a99468b41302b8ea4601b3f0b1eb11f7125a67", "v1.2.3", "refs/remotes/origin/release-1.2", "main@{1}", "HEAD^"} {
		if !secretsBaseRef.MatchString(ok) {
			t.Errorf("base %q refused", ok)
		}
	}
	for _, bad := range []string{"", "-p", "--output=/tmp/x", "main branch", "$(id)", "a;b", "`id`", "a\nb"} {
		if secretsBaseRef.MatchString(bad) {
			t.Errorf("base %q accepted", bad)
		}
	}
}

// fakeGitleaks puts a gitleaks on PATH that records its arguments (one per line, without
// the command's name) in args.txt and writes an empty report where --report-path says, and returns that file.
func fakeGitleaks(t *testing.T) (env []string, argsFile string) {
	t.Helper()
	bin := t.TempDir()
	argsFile = filepath.Join(bin, "args.txt")
	// With FAKE_GITLEAKS_ERR set it logs an error and still exits 0, as gitleaks v8.30.1
	// does when git log fails.
	script := `#!/bin/sh
printf '%s\n' "$@" >"` + argsFile + `"
if [ -n "${FAKE_GITLEAKS_ERR:-}" ]; then echo '11:46AM ERR [git] fatal: bad object 0123abcd'; echo '11:46AM INF no leaks found'; fi
while [ $# -gt 0 ]; do
  if [ "$1" = --report-path ]; then echo '[]' >"$2"; fi
  shift
done
`
	if err := os.WriteFile(filepath.Join(bin, "gitleaks"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), argsFile
}

// runScript runs a scan script as the step does (sh -ec SCRIPT sh ARGS...) in dir.
func runScript(t *testing.T, env []string, dir, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-ec", script, "sh"}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gitRepo makes a repository in a new directory with n commits and returns it and its
// commits' hashes, oldest first.
func gitRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed (the pipeline's history scan runs it)")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	var commits []string
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "f.txt")
		git("commit", "-q", "-m", fmt.Sprint("commit ", i))
		commits = append(commits, git("rev-parse", "HEAD"))
	}
	return dir, commits
}

func readArgs(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("gitleaks did not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
}

func TestHistoryScriptScansTheWholeHistoryOrTheChange(t *testing.T) {
	env, argsFile := fakeGitleaks(t)
	repo, commits := gitRepo(t, 4)
	reports := t.TempDir()

	// No base: every commit reachable from HEAD.
	out, err := runScript(t, env, repo, historyScript(reports))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	args := readArgs(t, argsFile)
	if !slices.Contains(args, "--log-opts=--full-history --diff-filter=tuxdb HEAD") || args[0] != "git" {
		t.Errorf("no base: gitleaks %q, want git ... --log-opts=--full-history --diff-filter=tuxdb HEAD", args)
	}
	if !strings.Contains(out, "4 commits (HEAD)") {
		t.Errorf("no base: output %q does not count 4 commits", out)
	}
	if _, err := os.Stat(filepath.Join(reports, "gitleaks-history.json")); err != nil {
		t.Errorf("the report is not where the gate reads it: %v", err)
	}

	// A base: the commits since its merge base with HEAD, here the last two.
	out, err = runScript(t, env, repo, historyScript(reports), commits[1])
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "--log-opts=--full-history --diff-filter=tuxdb " + commits[1] + "..HEAD"
	if args := readArgs(t, argsFile); !slices.Contains(args, want) {
		t.Errorf("base: gitleaks %q, want %q", args, want)
	}
	if !strings.Contains(out, "2 commits") {
		t.Errorf("base: output %q does not count 2 commits", out)
	}

	// A base that is not in the history fails, naming it.
	if out, err := runScript(t, env, repo, historyScript(reports), "origin/main"); err == nil || !strings.Contains(out, "--secrets-base origin/main: no merge base") {
		t.Errorf("unknown base: %v\n%s", err, out)
	}
}

func TestScansFailWhenGitleaksLogsAnError(t *testing.T) {
	env, _ := fakeGitleaks(t)
	env = append(env, "FAKE_GITLEAKS_ERR=1")
	repo, _ := gitRepo(t, 2)
	for name, script := range map[string]string{"tree": treeScript(t.TempDir()), "history": historyScript(t.TempDir())} {
		out, err := runScript(t, env, repo, script)
		if err == nil || !strings.Contains(out, "gitleaks logged errors (above)") || !strings.Contains(out, "fatal: bad object") {
			t.Errorf("%s scan passed with gitleaks' error: %v\n%s", name, err, out)
		}
	}
}

func TestHistoryScriptRefusesAShallowHistoryWithoutABase(t *testing.T) {
	env, argsFile := fakeGitleaks(t)
	repo, _ := gitRepo(t, 3)
	shallow := filepath.Join(t.TempDir(), "shallow")
	if out, err := exec.Command("git", "clone", "-q", "--depth=1", "file://"+repo, shallow).CombinedOutput(); err != nil {
		t.Fatalf("shallow clone: %v\n%s", err, out)
	}
	out, err := runScript(t, env, shallow, historyScript(t.TempDir()))
	if err == nil || !strings.Contains(out, "the history is shallow") {
		t.Errorf("shallow history scanned: %v\n%s", err, out)
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("gitleaks ran on a shallow history")
	}
}

func TestScansRefuseAGitleaksIgnoreFile(t *testing.T) {
	env, argsFile := fakeGitleaks(t)
	repo, _ := gitRepo(t, 1)
	if err := os.WriteFile(filepath.Join(repo, ".gitleaksignore"), []byte("f.txt:generic-api-key:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"tree": treeScript(t.TempDir()), "history": historyScript(t.TempDir())} {
		out, err := runScript(t, env, repo, script)
		if err == nil || !strings.Contains(out, ".gitleaksignore: allowed findings go into .gitleaks.toml") {
			t.Errorf("%s scan with a .gitleaksignore: %v\n%s", name, err, out)
		}
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("gitleaks ran beside a .gitleaksignore")
	}
	// Without the file the tree scan runs gitleaks dir on the working directory.
	if err := os.Remove(filepath.Join(repo, ".gitleaksignore")); err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	if out, err := runScript(t, env, repo, treeScript(reports)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if args := readArgs(t, argsFile); args[0] != "dir" || args[len(args)-1] != "." {
		t.Errorf("tree scan: gitleaks %q, want gitleaks dir ... .", args)
	}
	if _, err := os.Stat(filepath.Join(reports, "gitleaks-tree.json")); err != nil {
		t.Errorf("the report is not where the gate reads it: %v", err)
	}
}

// gitleaksAllowlist is one [[allowlists]] table of .gitleaks.toml.
type gitleaksAllowlist struct {
	line                             int
	description, condition           string
	targetRules, paths, regexes, etc []string
}

// readGitleaksConfig reads .gitleaks.toml in the subset of TOML it is written in (a key
// per line: a string, a bool, or an array of literal strings) and fails on anything else,
// so a misspelt key or an unexpected construct stops the test instead of passing unseen.
func readGitleaksConfig(t *testing.T) (useDefault bool, lists []gitleaksAllowlist) {
	t.Helper()
	f, err := os.Open("../" + gitleaksConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := regexp.MustCompile(`^([A-Za-z]+) = (.*)$`)
	array := regexp.MustCompile(`^\[('''[^']*'''|"[^"]*")(, ('''[^']*'''|"[^"]*"))*\]$`)
	item := regexp.MustCompile(`'''([^']*)'''|"([^"]*)"`)
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "[extend]":
			section = "extend"
			continue
		case line == "[[allowlists]]":
			section = "allowlists"
			lists = append(lists, gitleaksAllowlist{line: n})
			continue
		}
		m := kv.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: not a key = value line: %q", gitleaksConfig, n, line)
		}
		key, value := m[1], m[2]
		var items []string
		if array.MatchString(value) {
			for _, im := range item.FindAllStringSubmatch(value, -1) {
				items = append(items, im[1]+im[2])
			}
		}
		str := strings.Trim(value, `"`)
		switch {
		case section == "" && (key == "title" || key == "minVersion"):
		case section == "extend" && key == "useDefault":
			useDefault = value == "true"
		case section == "allowlists":
			l := &lists[len(lists)-1]
			switch key {
			case "description":
				l.description = str
			case "condition":
				l.condition = str
			case "targetRules":
				l.targetRules = items
			case "paths":
				l.paths = items
			case "regexes":
				l.regexes = items
			default:
				l.etc = append(l.etc, key)
			}
		default:
			t.Fatalf("%s:%d: unexpected key %s in [%s]", gitleaksConfig, n, key, section)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return useDefault, lists
}

func TestGitleaksAllowlistIsNarrowAndReasoned(t *testing.T) {
	useDefault, lists := readGitleaksConfig(t)
	if !useDefault {
		t.Errorf("%s: [extend] useDefault = true is missing: without it gitleaks has no rules", gitleaksConfig)
	}
	if len(lists) == 0 {
		t.Fatalf("%s: no [[allowlists]] read (the repository's fixtures need them)", gitleaksConfig)
	}
	// Paths an allow-list must never cover: ordinary code, test code and test data, and
	// the docs as a whole.
	unscanned := []string{"svc/internal/x/y_test.go", "svc/internal/x/testdata/creds.json", "svc/cmd/x/main.go", "docs/x.md", "infra/envs/prod.tfvars"}
	for _, l := range lists {
		where := fmt.Sprintf("%s:%d", gitleaksConfig, l.line)
		if len(strings.Fields(l.description)) < 6 {
			t.Errorf("%s: the description must say why this is no secret: %q", where, l.description)
		}
		// All of rule, file and value, so that the entry allows one fixture and nothing else.
		if !strings.EqualFold(l.condition, "AND") || len(l.targetRules) == 0 || len(l.paths) == 0 || len(l.regexes) == 0 {
			t.Errorf("%s: needs condition = \"AND\", targetRules, paths and regexes (got %+v)", where, l)
		}
		if len(l.etc) > 0 {
			t.Errorf("%s: keys %v (commits or stopwords would allow without naming the file and value)", where, l.etc)
		}
		for _, p := range l.paths {
			re, err := regexp.Compile(p)
			if err != nil || !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
				t.Errorf("%s: path %q must be an anchored regular expression (%v)", where, p, err)
				continue
			}
			for _, f := range unscanned {
				if re.MatchString(f) {
					t.Errorf("%s: path %q skips %s", where, p, f)
				}
			}
			if !pathExists(t, re) {
				t.Errorf("%s: path %q matches no file of the repository (a stale entry)", where, p)
			}
		}
		// One exact value: ^literal$, nothing that would match a family of values.
		for _, r := range l.regexes {
			inner, anchored := strings.CutPrefix(r, "^")
			inner, end := strings.CutSuffix(inner, "$")
			re, err := regexp.Compile(inner)
			if err != nil || !anchored || !end {
				t.Errorf("%s: value %q must be ^<the exact value>$ (%v)", where, r, err)
				continue
			}
			if _, literal := re.LiteralPrefix(); !literal {
				t.Errorf("%s: value %q is a pattern; an entry allows one exact value", where, r)
			}
		}
	}
}

// pathExists reports whether a file of the repository (relative to its root) matches re.
func pathExists(t *testing.T, re *regexp.Regexp) bool {
	t.Helper()
	found := false
	walkRepo(t, func(rel string) {
		if re.MatchString(rel) {
			found = true
		}
	})
	return found
}

// walkRepo calls fn with every file of the repository, relative to its root, outside .git.
func walkRepo(t *testing.T, fn func(rel string)) {
	t.Helper()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if d.IsDir() && (rel == ".git" || rel == filepath.Join("ci", "internal")) {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			fn(filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gitleaksSkipsThirdPartyCode are the paths of gitleaks v8.30.1's default global
// allow-list (config/gitleaks.toml) that skip code by the name of its directory: vendored
// Go, Node and Bower packages, minified JavaScript libraries, Python virtualenvs and
// site-packages. gitleaks never reads a file there. A new gitleaks may add some: re-read
// the [allowlist] of its config/gitleaks.toml and update this list.
var gitleaksSkipsThirdPartyCode = []string{
	`(?:^|/)vendor/modules\.txt$`,
	`(?:^|/)vendor/(?:github\.com|golang\.org/x|google\.golang\.org|gopkg\.in|istio\.io|k8s\.io|sigs\.k8s\.io)(?:/.*)?$`,
	`(?:^|/)node_modules(?:/.*)?$`,
	`(?:^|/)bower_components(?:/.*)?$`,
	`(?:^|/)(?:angular|bootstrap|jquery(?:-?ui)?|plotly|swagger-?ui)[a-zA-Z0-9.-]*(?:\.min)?\.js(?:\.map)?$`,
	`(?i)(?:^|/)(?:v?env|virtualenv)/lib(?:64)?(?:/.*)?$`,
	`(?i)(?:^|/)(?:lib(?:64)?/python[23](?:\.\d{1,2})+|python/[23](?:\.\d{1,2})+/lib(?:64)?)(?:/.*)?$`,
	`(?:^|/)vendor/(?:bundle|ruby)(?:/.*?)?$`,
}

// TestNoCodeWhereGitleaksDoesNotLook holds what .gitleaks.toml says of gitleaks' default
// allow-list: no file of this repository is where it skips code unread.
func TestNoCodeWhereGitleaksDoesNotLook(t *testing.T) {
	if !strings.HasSuffix(pins.Gitleaks, ":v8.30.1") {
		t.Fatalf("gitleaksSkipsThirdPartyCode is gitleaks v8.30.1's; the pipeline pins %s", pins.Gitleaks)
	}
	var res []*regexp.Regexp
	for _, p := range gitleaksSkipsThirdPartyCode {
		res = append(res, regexp.MustCompile(p))
	}
	files := 0
	walkRepo(t, func(rel string) {
		files++
		for _, re := range res {
			if re.MatchString(rel) {
				t.Errorf("%s: gitleaks' default allow-list skips it (%s); move it, or scan it another way", rel, re)
			}
		}
	})
	if files < 100 {
		t.Errorf("walked only %d files: not the repository", files)
	}
}

// TestGitleaksConfigWithTheRealScanner runs the pinned gitleaks (GITLEAKS, the binary
// scripts/lib.sh gitleaks_bin builds; suite 50 sets it) with .gitleaks.toml: each
// allow-list entry is needed (without it, its fixture is reported) and is all it takes
// (the fixtures pass), and a key planted in a Go test file is reported by rule, file and
// line, while the report carries no secret.
func TestGitleaksConfigWithTheRealScanner(t *testing.T) {
	bin := os.Getenv("GITLEAKS")
	if bin == "" {
		t.Skip("GITLEAKS (the pinned gitleaks binary) is not set; suite 50 sets it")
	}
	_, lists := readGitleaksConfig(t)
	raw, err := os.ReadFile("../" + gitleaksConfig)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of each fixture the allow-list names, at its path in the repository.
	tree := t.TempDir()
	walkRepo(t, func(rel string) {
		for _, l := range lists {
			for _, p := range l.paths {
				if regexp.MustCompile(p).MatchString(rel) {
					content, err := os.ReadFile(filepath.Join("..", rel))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, rel)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(tree, rel), content, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
	scan := func(config string) []string {
		t.Helper()
		cfg := filepath.Join(t.TempDir(), "gitleaks.toml")
		if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		report := filepath.Join(t.TempDir(), "report.json")
		args := gitleaksArgs("dir", report, ".")
		args[slices.Index(args, "--config")+1] = cfg
		cmd := exec.Command(bin, args[1:]...)
		cmd.Dir = tree
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gitleaks: %v\n%s", err, out)
		}
		rep, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		findings, err := gitleaksFindings("tree", rep)
		if err != nil {
			t.Fatal(err)
		}
		return findings
	}
	if got := scan(string(raw)); len(got) != 0 {
		t.Errorf("the fixtures with %s: %q, want no findings", gitleaksConfig, got)
	}
	// Each entry removed in turn: its fixture is reported again.
	blocks := strings.Split(string(raw), "[[allowlists]]")
	for i := 1; i < len(blocks); i++ {
		without := strings.Join(slices.Delete(slices.Clone(blocks), i, i+1), "[[allowlists]]")
		if got := scan(without); len(got) == 0 {
			t.Errorf("allow-list entry %d (line %d) removed: still no findings, so it allows nothing", i, lists[i-1].line)
		}
	}
	// A key planted in a compiled test file (trivy's old blind spot) is found.
	keyID, secret := awsKeyPair()
	planted := "package x\n\nconst (\n\tawsAccessKeyID     = \"" + keyID + "\"\n\tawsSecretAccessKey = \"" + secret + "\"\n)\n"
	if err := os.MkdirAll(filepath.Join(tree, "svc/internal/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "svc/internal/x/y_test.go"), []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	got := scan(string(raw))
	if !slices.Contains(got, "gitleaks tree: aws-access-token svc/internal/x/y_test.go:4") {
		t.Errorf("planted AWS key id: findings %q", got)
	}
	for _, line := range got {
		if strings.Contains(line, secret) || strings.Contains(line, keyID) {
			t.Errorf("a finding repeats the secret: %s", line)
		}
	}
}

// TestGitleaksHistoryWithTheRealScanner: a key committed and deleted in the next commit is
// in no tree, and the pinned gitleaks finds it in the history, by commit; and a git log
// that fails is only logged (exit 0), which gitleaksRun's check of the log is for.
func TestGitleaksHistoryWithTheRealScanner(t *testing.T) {
	bin := os.Getenv("GITLEAKS")
	if bin == "" {
		t.Skip("GITLEAKS (the pinned gitleaks binary) is not set; suite 50 sets it")
	}
	repo, _ := gitRepo(t, 1)
	keyID, secret := awsKeyPair()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	planted := "package x\n\nconst (\n\tawsAccessKeyID     = \"" + keyID + "\"\n\tawsSecretAccessKey = \"" + secret + "\"\n)\n"
	if err := os.WriteFile(filepath.Join(repo, "creds_test.go"), []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "creds_test.go")
	git("commit", "-q", "-m", "add credentials")
	added := git("rev-parse", "HEAD")
	git("rm", "-q", "creds_test.go")
	git("commit", "-q", "-m", "remove them")

	report := filepath.Join(t.TempDir(), "report.json")
	args := gitleaksArgs("git", report, ".")
	cfg, err := filepath.Abs("../" + gitleaksConfig)
	if err != nil {
		t.Fatal(err)
	}
	args[slices.Index(args, "--config")+1] = cfg
	cmd := exec.Command(bin, append(args[1:], "--log-opts=--full-history --diff-filter=tuxdb HEAD")...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitleaks git: %v\n%s", err, out)
	}
	rep, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gitleaksFindings("history", rep)
	if err != nil {
		t.Fatal(err)
	}
	want := "gitleaks history: aws-access-token creds_test.go:4 (commit " + added[:12] + ")"
	if !slices.Contains(got, want) {
		t.Errorf("history findings %q, want %q", got, want)
	}
	for _, line := range got {
		if strings.Contains(line, secret) || strings.Contains(line, keyID) {
			t.Errorf("a finding repeats the secret: %s", line)
		}
	}
	if raw := string(rep); strings.Contains(raw, secret) || strings.Contains(raw, keyID) {
		t.Error("the report carries the secret: --redact did not apply to it")
	}

	// git log on a range it cannot read: gitleaks logs ERR and exits 0.
	cmd = exec.Command(bin, append(args[1:], "--log-opts=no-such-ref..HEAD")...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err == nil && !regexp.MustCompile(`(?m)^[^ ]+ (ERR|FTL) `).Match(out) {
		t.Errorf("gitleaks neither failed nor logged an error for a bad range:\n%s", out)
	}
}
