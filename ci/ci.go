package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dagger/transaction-validator/internal/dagger"
)

// Ci runs every check of a pull request and fails if any stage failed.
//
// Stages: lint, validate, docs, scan, test, build and scan-image, independent ones in parallel.
// It always runs all of them and ends with one summary naming each stage's result. The
// engine may answer a step from its cache, never the call whole: the summary says which
// steps came from the cache (CACHED), with when they really ran and for how long.
//
// +cache="never"
func (m *TransactionValidator) Ci(
	ctx context.Context,
	// How long each fuzz target runs in the test stage.
	// +default="15s"
	fuzzTime string,
	// The repository's .git, whose history gitleaks scans in the scan stage (see secrets).
	// +defaultPath="/"
	// +ignore=["*", "!.git", ".git/index", ".git/logs"]
	history *dagger.Directory,
	// Where the change starts, for gitleaks' history scan (see secrets). Empty: the whole
	// history reachable from HEAD.
	// +optional
	secretsBase string,
) (string, error) {
	r := m.runCi(ctx, fuzzTime, history, secretsBase)
	if len(r.failed()) > 0 {
		return "", errors.New(r.text() + r.details())
	}
	return r.text(), nil
}

// CiReport runs every check of ci and returns its summary and scan reports, pass or fail.
//
// The call succeeds whatever the stages found, so that a failing run's reports can be
// exported; status says "passed" or "failed" (also when the reports could not be made:
// reports/ERROR.txt then says why). The directory holds summary.md (the stages'
// results and failures, for a CI job summary), status, and reports/: trivy's JSON and
// SARIF report of every scan target and image, and code-scanning.sarif, all of them in
// one file with a category per target, for GitHub code scanning.
//
//	dagger call ci-report export --path out/ci-report
//
// +cache="never"
func (m *TransactionValidator) CiReport(
	ctx context.Context,
	// How long each fuzz target runs in the test stage.
	// +default="15s"
	fuzzTime string,
	// The repository's .git, whose history gitleaks scans in the scan stage (see secrets).
	// +defaultPath="/"
	// +ignore=["*", "!.git", ".git/index", ".git/logs"]
	history *dagger.Directory,
	// Where the change starts, for gitleaks' history scan (see secrets). Empty: the whole
	// history reachable from HEAD.
	// +optional
	secretsBase string,
) (*dagger.Directory, error) {
	r := m.runCi(ctx, fuzzTime, history, secretsBase)
	status := "passed"
	if len(r.failed()) > 0 {
		status = "failed"
	}
	// Reports that cannot be made (a scanner that crashed) leave the summary to export:
	// the error takes their place and the run counts as failed.
	reports, err := m.reports(ctx)
	if err != nil {
		reports = dag.Directory().WithNewFile("ERROR.txt", "the scan reports could not be made:\n"+err.Error()+"\n")
		status = "failed"
	}
	return dag.Directory().
		WithNewFile("summary.md", r.markdown()).
		WithNewFile("status", status+"\n").
		WithDirectory("reports", reports), nil
}

// ciRun is one run of ci's stages and what each returned.
type ciRun struct {
	stages  []step
	results []outcome
}

// runCi runs ci's stages side by side and waits for all of them.
func (m *TransactionValidator) runCi(ctx context.Context, fuzzTime string, history *dagger.Directory, secretsBase string) ciRun {
	stages := []step{
		{"lint", m.Lint},
		{"validate", m.Validate},
		{"docs", m.Docs},
		{"scan", func(ctx context.Context) (string, error) { return m.Scan(ctx, history, secretsBase) }},
		{"test", func(ctx context.Context) (string, error) { return m.Test(ctx, fuzzTime) }},
		{"build", func(ctx context.Context) (string, error) { return m.Build(ctx, checkVersion, "") }},
		{"scan-image", m.scanImages},
	}
	return ciRun{stages, runAll(ctx, stages)}
}

// failed names the stages that failed.
func (r ciRun) failed() []string {
	var names []string
	for i, s := range r.stages {
		if r.results[i].err != nil {
			names = append(names, s.name)
		}
	}
	return names
}

// notRunLines are the NOT RUN, NOTE and CACHED lines (runSteps', output's) of a stage's
// output: steps that could not run here, what a passing step must say (the vulnerability
// database's date), and steps the engine answered from its cache, with when they really
// ran and for how long, stay in every summary.
func notRunLines(out string) []string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "NOT RUN") || passingStepLine(line) {
			lines = append(lines, line)
		}
	}
	return lines
}

// text is the summary ci prints: one line per stage, then the verdict.
func (r ciRun) text() string {
	var b strings.Builder
	b.WriteString("ci summary\n")
	for i, s := range r.stages {
		o := r.results[i]
		status := "ok"
		if o.err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(&b, "  %-10s %-20s %6.1fs\n", s.name, status, o.took.Seconds())
		for _, line := range notRunLines(o.out) {
			fmt.Fprintf(&b, "      %s\n", line)
		}
	}
	if failed := r.failed(); len(failed) > 0 {
		fmt.Fprintf(&b, "FAILED stages: %s\n", strings.Join(failed, ", "))
	} else {
		b.WriteString("all stages passed\n")
	}
	return b.String()
}

// details is each failed stage's report under a "== <stage>" heading.
func (r ciRun) details() string {
	var b strings.Builder
	for i, s := range r.stages {
		if err := r.results[i].err; err != nil {
			fmt.Fprintf(&b, "\n== %s\n%s\n", s.name, err)
		}
	}
	return b.String()
}

// markdown is the summary as GitHub-flavoured Markdown (a job summary): a table of the
// stages, then each failed stage's report, folded.
func (r ciRun) markdown() string {
	var b strings.Builder
	verdict := "all stages passed"
	if failed := r.failed(); len(failed) > 0 {
		verdict = "FAILED stages: " + strings.Join(failed, ", ")
	}
	fmt.Fprintf(&b, "## dagger call ci: %s\n\n| stage | result | time |\n|---|---|---|\n", verdict)
	for i, s := range r.stages {
		o := r.results[i]
		status := "ok"
		if o.err != nil {
			status = "**FAILED**"
		}
		for _, line := range notRunLines(o.out) {
			status += "<br>" + markdownCell(line)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f s |\n", s.name, status, o.took.Seconds())
	}
	for i, s := range r.stages {
		if err := r.results[i].err; err != nil {
			fence := "```"
			for strings.Contains(err.Error(), fence) {
				fence += "`"
			}
			fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n%s\n%s\n%s\n\n</details>\n", s.name, fence, err, fence)
		}
	}
	return b.String()
}

// markdownCell makes s safe inside a Markdown table cell.
func markdownCell(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}

// scanImages scans every workload's image.
func (m *TransactionValidator) scanImages(ctx context.Context) (string, error) {
	var steps []step
	for _, name := range workloadNames() {
		steps = append(steps, step{"image " + name, func(ctx context.Context) (string, error) { return m.ScanImage(ctx, name) }})
	}
	return runSteps(ctx, steps...)
}
