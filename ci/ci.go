package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Ci runs every check of a pull request and fails if any stage failed.
//
// Stages: lint, validate, scan, test, build and scan-image, independent ones in parallel.
// It always runs all of them and ends with one summary naming each stage's result.
func (m *TransactionValidator) Ci(
	ctx context.Context,
	// How long each fuzz target runs in the test stage.
	// +default="15s"
	fuzzTime string,
) (string, error) {
	stages := []step{
		{"lint", m.Lint},
		{"validate", m.Validate},
		{"scan", m.Scan},
		{"test", func(ctx context.Context) (string, error) { return m.Test(ctx, fuzzTime) }},
		{"build", func(ctx context.Context) (string, error) { return m.Build(ctx, "ci", "") }},
		{"scan-image", m.scanImages},
	}
	results := runAll(ctx, stages)

	var summary, details strings.Builder
	failed := []string{}
	summary.WriteString("ci summary\n")
	for i, s := range stages {
		r := results[i]
		status := "ok"
		if r.err != nil {
			status = "FAILED"
			failed = append(failed, s.name)
			fmt.Fprintf(&details, "\n== %s\n%s\n", s.name, r.err)
		}
		fmt.Fprintf(&summary, "  %-10s %-20s %6.1fs\n", s.name, status, r.took.Seconds())
		// Steps that could not run here (runSteps' NOT RUN lines) stay in the summary.
		for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
			if strings.HasPrefix(line, "NOT RUN") {
				fmt.Fprintf(&summary, "      %s\n", line)
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(&summary, "FAILED stages: %s\n", strings.Join(failed, ", "))
		return "", errors.New(summary.String() + details.String())
	}
	summary.WriteString("all stages passed\n")
	return summary.String(), nil
}

// scanImages scans every workload's image.
func (m *TransactionValidator) scanImages(ctx context.Context) (string, error) {
	var steps []step
	for _, name := range workloadNames() {
		steps = append(steps, step{"image " + name, func(ctx context.Context) (string, error) { return m.ScanImage(ctx, name) }})
	}
	return runSteps(ctx, steps...)
}
