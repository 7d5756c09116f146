package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

const (
	// gitleaksConfig is gitleaks' configuration at the repository's root: gitleaks' own
	// rules (all of them) and the allow-list of known test fixtures, each entry with its
	// reason and limited to its rule, its files and its exact value.
	gitleaksConfig = ".gitleaks.toml"
	// gitleaksConfigPath is where the scans mount it, from the source: a missing file fails
	// the step instead of gitleaks quietly falling back to its defaults.
	gitleaksConfigPath = "/etc/txv/gitleaks.toml"
	// gitleaksReports is where each scan writes its JSON report.
	gitleaksReports = "/reports"
	// historyMount is where the history scan mounts the repository's .git.
	historyMount = "/history"
)

// Secrets runs gitleaks, the second secret scanner, over the source tree and the history.
//
// trivy's secret scan (scan) reads the tree only; gitleaks reads it too, with other
// rules, and also every commit: a key committed and deleted later is still in the
// history that gets pushed. Its rules are gitleaks' own; .gitleaks.toml allows the known
// test fixtures, each with its reason. A finding fails with its rule, file and line (and
// commit), never the secret itself: gitleaks redacts the report.
//
//	dagger call secrets
//	dagger call secrets --secrets-base=origin/main
func (m *TransactionValidator) Secrets(
	ctx context.Context,
	// The repository's .git, whose history is scanned: by default the checkout's own. In a
	// linked git worktree .git is a pointer to a directory outside the checkout, so the
	// history scan reports NOT RUN there (pass --history=<a clone's directory>).
	// +defaultPath="/"
	// +ignore=["*", "!.git", ".git/index", ".git/logs"]
	history *dagger.Directory,
	// Where the change starts (a commit or ref, e.g. origin/main): only the commits since
	// its merge base with HEAD are scanned. Empty: every commit reachable from HEAD (about
	// 5 s for this repository's whole history).
	// +optional
	secretsBase string,
) (string, error) {
	return runSteps(ctx, m.secretsSteps(history, secretsBase)...)
}

// secretsSteps are the two gitleaks scans, as steps of secrets and of the scan stage (its
// own steps there, so that a history scan that cannot run is reported NOT RUN in ci's
// summary, like every step that could not run).
func (m *TransactionValidator) secretsSteps(history *dagger.Directory, base string) []step {
	return []step{
		{"gitleaks tree", m.secretsTree},
		{"gitleaks history", func(ctx context.Context) (string, error) {
			return m.secretsHistory(ctx, history, base)
		}},
	}
}

// gitleaks returns the golang image (it has the git `gitleaks git` runs, in both modes)
// with the gitleaks binary of the pinned image and the repository's configuration.
func (m *TransactionValidator) gitleaks() *dagger.Container {
	return dag.Container().From(pins.Golang).
		WithFile("/usr/local/bin/gitleaks", dag.Container().From(pins.Gitleaks).File(pins.GitleaksBinary),
			dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithMountedFile(gitleaksConfigPath, m.Source.File(gitleaksConfig)).
		// The mounted history belongs to whoever the engine says; git refuses a repository
		// owned by another user unless told it is safe (upstream's image does the same).
		WithEnvVariable("GIT_CONFIG_COUNT", "1").
		WithEnvVariable("GIT_CONFIG_KEY_0", "safe.directory").
		WithEnvVariable("GIT_CONFIG_VALUE_0", "*")
}

// gitleaksArgs is the command line of one gitleaks scan (mode "dir" or "git") of source,
// writing its JSON report to report.
func gitleaksArgs(mode, report, source string) []string {
	args := []string{"gitleaks", mode,
		"--config", gitleaksConfigPath,
		// An inline "gitleaks:allow" comment would be an allow-list entry without a
		// reason and outside the one reviewed file.
		"--ignore-gitleaks-allow",
		// The report and the log carry the rule, file and line, never the secret.
		"--redact",
		// Findings are read from the report (a finding exits 0); anything else that goes
		// wrong (a partial scan, a bad configuration) still exits 1 and fails the step.
		"--exit-code", "0",
		"--report-format", "json", "--report-path", report,
		"--no-banner", "--no-color"}
	return append(args, source)
}

// noIgnoreFile refuses a .gitleaksignore in the directory gitleaks scans: gitleaks reads
// one from there on its own, and it would allow findings by fingerprint, without a reason.
const noIgnoreFile = `if [ -e .gitleaksignore ]; then
  echo ".gitleaksignore: allowed findings go into ` + gitleaksConfig + `, each with its reason (remove the file)" >&2
  exit 1
fi
`

// gitleaksRun is the shell that runs cmd, one gitleaks command line, keeping its log in
// reports/<name>.log, and fails when gitleaks logged an error: gitleaks v8.30.1 logs a
// failing `git log` (no repository, a missing object) as ERR, reports "no leaks found"
// and exits 0, which would pass a history it never read.
func gitleaksRun(cmd, reports, name string) string {
	log := shellJoin([]string{reports + "/" + name + ".log"})
	return "if ! " + cmd + " >" + log + " 2>&1; then cat " + log + "; exit 1; fi\n" +
		"cat " + log + "\n" +
		"if grep -qE '^[^ ]+ (ERR|FTL) ' " + log + "; then\n" +
		"  echo 'gitleaks logged errors (above): the scan is incomplete' >&2\n  exit 1\nfi\n"
}

// treeScript is the tree scan: gitleaks over the working directory, the source as ci
// sees it (ci's ignore list applies: no .git, no generated SDK), its report in reports.
func treeScript(reports string) string {
	return "mkdir -p " + shellJoin([]string{reports}) + "\n" + noIgnoreFile +
		gitleaksRun(shellJoin(gitleaksArgs("dir", reports+"/gitleaks-tree.json", ".")), reports, "gitleaks-tree")
}

// secretsTree scans the source tree.
func (m *TransactionValidator) secretsTree(ctx context.Context) (string, error) {
	scanned := m.gitleaks().
		WithMountedDirectory("/src", m.Source).
		WithWorkdir("/src").
		WithExec([]string{"sh", "-ec", treeScript(gitleaksReports)})
	return gitleaksGate(ctx, scanned, "tree", gitleaksReports+"/gitleaks-tree.json")
}

// secretsBaseRef accepts what git reads as a commit or ref name and nothing it would read
// as an option: the base is an argument of git merge-base.
var secretsBaseRef = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/@{}~^-]*$`)

// historyScript is the history scan of the repository in the working directory, its
// report in reports: every commit reachable from HEAD, or only those since the merge base
// of $1 (the change's base) and HEAD. A shallow clone lacks commits, so without a base it fails rather than
// scan part of the history as if it were all of it. Merge commits add no diff of their
// own to `git log -p` (their content is scanned in the commits they merge).
func historyScript(reports string) string {
	return "mkdir -p " + shellJoin([]string{reports}) + "\n" + noIgnoreFile + `base=${1:-}
range=HEAD
if [ -z "$base" ] && [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "the history is shallow (a CI checkout with fetch-depth 1?): fetch all of it (actions/checkout fetch-depth: 0), or give --secrets-base" >&2
  exit 1
fi
if [ -n "$base" ]; then
  from=$(git merge-base "$base" HEAD) || {
    echo "--secrets-base $base: no merge base with HEAD in this history (fetch the base first, e.g. git fetch origin main)" >&2
    exit 1
  }
  range="$from..HEAD"
fi
commits=$(git rev-list --count "$range")
echo "gitleaks history: $commits commits ($range)"
` + gitleaksRun(shellJoin(gitleaksArgs("git", reports+"/gitleaks-history.json", "."))+
		` "--log-opts=--full-history --diff-filter=tuxdb $range"`, reports, "gitleaks-history")
}

// secretsHistory scans the commits of history's .git (all of them, or those since base).
func (m *TransactionValidator) secretsHistory(ctx context.Context, history *dagger.Directory, base string) (string, error) {
	if base != "" && !secretsBaseRef.MatchString(base) {
		return "", fmt.Errorf("--secrets-base %q: not a commit or ref name", base)
	}
	isDir, err := history.Exists(ctx, ".git", dagger.DirectoryExistsOpts{ExpectedType: dagger.ExistsTypeDirectoryType})
	if err != nil {
		return "", fmt.Errorf("gitleaks history: %w", err)
	}
	if !isDir {
		exists, err := history.Exists(ctx, ".git")
		if err != nil {
			return "", fmt.Errorf("gitleaks history: %w", err)
		}
		if exists {
			return "", notRun(".git is a linked worktree's pointer to a directory outside the checkout; pass --history=<the main clone>")
		}
		return "", notRun("no .git with the source; pass --history=<a clone>")
	}
	scanned := m.gitleaks().
		WithMountedDirectory(historyMount, history).
		WithWorkdir(historyMount).
		WithExec([]string{"sh", "-ec", historyScript(gitleaksReports), "sh", base})
	return gitleaksGate(ctx, scanned, "history", gitleaksReports+"/gitleaks-history.json")
}

// gitleaksGate waits for a scan and fails with the findings of its report.
func gitleaksGate(ctx context.Context, scanned *dagger.Container, scope, report string) (string, error) {
	out, err := output(ctx, scanned, "gitleaks "+scope)
	if err != nil {
		return out, err
	}
	raw, err := scanned.File(report).Contents(ctx)
	if err != nil {
		return out, fmt.Errorf("gitleaks %s: its report: %w", scope, err)
	}
	findings, err := gitleaksFindings(scope, []byte(raw))
	if err != nil {
		return out, fmt.Errorf("gitleaks %s: %w", scope, err)
	}
	if len(findings) > 0 {
		return out, fmt.Errorf("gitleaks %s: %d secret(s) (remove it and rotate it; a test fixture that is no secret goes into %s with its reason):\n  %s",
			scope, len(findings), gitleaksConfig, strings.Join(findings, "\n  "))
	}
	return out + fmt.Sprintf("gitleaks %s: no secrets\n", scope), nil
}

// gitleaksFinding is the part of a finding in gitleaks' JSON report the gate reads. The
// report also carries Secret and Match (redacted by --redact); neither is read, so no
// message of the pipeline can repeat a secret even from an unredacted report.
type gitleaksFinding struct {
	RuleID    string
	File      string
	StartLine int
	Commit    string
}

// gitleaksFindings returns one line per finding of a gitleaks JSON report of scope (tree
// or history): "gitleaks <scope>: <rule> <file>:<line>", and the commit in the history.
// trivy names some rules alike (private-key), so each line says which scanner found it.
func gitleaksFindings(scope string, report []byte) ([]string, error) {
	var findings []gitleaksFinding
	if err := json.Unmarshal(report, &findings); err != nil {
		return nil, fmt.Errorf("reading gitleaks report: %w", err)
	}
	var out []string
	for _, f := range findings {
		line := fmt.Sprintf("gitleaks %s: %s %s:%d", scope, f.RuleID, f.File, f.StartLine)
		if f.Commit != "" {
			line += " (commit " + f.Commit[:min(12, len(f.Commit))] + ")"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out, nil
}

// shellJoin quotes each argument for sh.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
