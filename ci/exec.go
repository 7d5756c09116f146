package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// run executes args in c and returns the command's combined output. A non-zero exit is
// an error that names the step and carries the end of the output, which is where tools
// print what is wrong. Failures are not cached by the engine, so a re-run re-executes.
func run(ctx context.Context, c *dagger.Container, step string, args ...string) (string, error) {
	return output(ctx, c.WithExec(args), step)
}

// output is run for a container whose last exec is already in place (a step that then
// reads a file the command wrote): that command's combined output, or an error naming
// the step with the end of the output. A step that sh stamped and the engine answered
// from its cache gets a CACHED line saying when it really ran and for how long.
func output(ctx context.Context, done *dagger.Container, step string) (string, error) {
	stdout, err := done.Stdout(ctx)
	if err != nil {
		var exit *dagger.ExecError
		if errors.As(err, &exit) {
			out, _ := cutRan(exit.Stdout + exit.Stderr)
			return out, fmt.Errorf("%s: exit status %d\n%s", step, exit.ExitCode, tail(out, 80))
		}
		return "", fmt.Errorf("%s: %w", step, err)
	}
	stderr, err := done.Stderr(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	out, r := cutRan(stdout + stderr)
	if line := r.cachedLine(step, callStarted); line != "" {
		out += line + "\n"
	}
	return out, nil
}

// sh runs a shell script in c, for steps that are a pipeline of commands. The script is
// stamped with when it ran (see ranMarker).
func sh(ctx context.Context, c *dagger.Container, step, script string) (string, error) {
	return run(ctx, c, step, "sh", "-ec", stamped(script))
}

// callStarted is when this call of the module began: the engine starts the module's
// runtime for every call of a function, and every function whose summary reports
// CACHED steps is never answered from the function cache (+cache="never").
var callStarted = time.Now()

// ranMarker starts the line a stamped script prints last, on stderr: when it started and
// ended, in Unix seconds. The line is part of the exec's result, so when the engine
// answers the exec from its cache, the line is the original run's: older than the call,
// it tells the step was cached, and when and how long it really ran. The engine has no
// API that says whether an exec was a cache hit; this is what the output itself can say.
const ranMarker = "txv-step-ran"

// stamped prefixes script with the trap that prints ranMarker's line on any exit. An
// image without date(1) prints 0, which claims nothing.
func stamped(script string) string {
	return `txv_ran_from=$(date +%s 2>/dev/null || echo 0)
trap 'echo "` + ranMarker + ` $txv_ran_from $(date +%s 2>/dev/null || echo 0)" >&2' EXIT
` + script
}

// ran is a stamped step's run, in Unix seconds; zero when unknown.
type ran struct{ from, to int64 }

// cutRan removes ranMarker's lines from out and returns the last one's times.
func cutRan(out string) (string, ran) {
	if !strings.Contains(out, ranMarker) {
		return out, ran{}
	}
	var r ran
	var kept []string
	for _, line := range strings.SplitAfter(out, "\n") {
		var from, to int64
		if n, _ := fmt.Sscanf(strings.TrimSpace(line), ranMarker+" %d %d", &from, &to); n == 2 && strings.HasPrefix(line, ranMarker) {
			r = ran{from, to}
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, ""), r
}

// cachedLine is the CACHED line of a step whose stamp is older than the call (with a
// second of slack for clocks that read whole seconds), or "" for a step that ran in this
// call or whose times are unknown.
func (r ran) cachedLine(step string, call time.Time) string {
	if r.from <= 0 || r.to < r.from || !time.Unix(r.from, 0).Before(call.Add(-time.Second)) {
		return ""
	}
	return fmt.Sprintf("CACHED %s: the result of a run at %s that took %ds",
		step, time.Unix(r.from, 0).UTC().Format("2006-01-02 15:04:05 UTC"), r.to-r.from)
}

// passingStepLine tells the lines of a passing step's output that stay in every summary,
// like NOT RUN lines: NOTE (the vulnerability database's date) and CACHED.
func passingStepLine(line string) bool {
	return strings.HasPrefix(line, "NOTE ") || strings.HasPrefix(line, "CACHED ")
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// step is one named check of a stage.
type step struct {
	name string
	run  func(context.Context) (string, error)
}

// outcome is what one step returned and how long it took.
type outcome struct {
	out  string
	err  error
	took time.Duration
}

// runAll runs the steps concurrently and returns their outcomes in the steps' order.
func runAll(ctx context.Context, steps []step) []outcome {
	outcomes := make([]outcome, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			out, err := s.run(ctx)
			outcomes[i] = outcome{out, err, time.Since(start)}
		}()
	}
	wg.Wait()
	return outcomes
}

// runSteps runs independent steps concurrently and reports every failure, not only the
// first: a developer fixes all of them in one go.
func runSteps(ctx context.Context, steps ...step) (string, error) {
	var report strings.Builder
	var errs []error
	for i, o := range runAll(ctx, steps) {
		var skipped *notRunError
		switch err := o.err; {
		case err == nil:
			fmt.Fprintf(&report, "ok       %s\n", steps[i].name)
			for _, line := range strings.Split(o.out, "\n") {
				if passingStepLine(line) {
					fmt.Fprintf(&report, "%s\n", line)
				}
			}
		case errors.As(err, &skipped):
			fmt.Fprintf(&report, "NOT RUN  %s: %s\n", steps[i].name, skipped.reason)
		default:
			fmt.Fprintf(&report, "FAILED   %s\n", steps[i].name)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return report.String(), fmt.Errorf("%s\n%w", report.String(), errors.Join(errs...))
	}
	return report.String(), nil
}

// tool returns a container of a pinned tool image with the source at /src. It runs as
// root: the mounted source belongs to root and tools write next to their inputs (tofu's
// .terraform, kustomize edit); the container lives for one step and holds no secret but
// the ones a step mounts itself.
func (m *TransactionValidator) tool(image string) *dagger.Container {
	return dag.Container().From(image).
		WithUser("0").
		WithMountedDirectory("/src", m.Source).
		WithWorkdir("/src")
}

// infraTool is tool with only infra/ at /src/infra: OpenTofu and tflint read nothing
// outside it (modules refer to each other by relative paths inside infra/). It is the
// separately uploaded infra/ (New), so these steps stay cached when only the rest of the
// checkout changes: suite 50 requires it (lint on a copy with a change in svc/ only).
func (m *TransactionValidator) infraTool(image string) *dagger.Container {
	return dag.Container().From(image).
		WithUser("0").
		WithMountedDirectory("/src", m.Infra).
		WithWorkdir("/src")
}

// goEnv returns the golang image with the source at /src and the module and build caches
// shared by every Go stage.
func (m *TransactionValidator) goEnv() *dagger.Container {
	return m.goEnvFrom(dag.Container().From(pins.Golang))
}

// goEnvFrom is goEnv on top of base, an image derived from the golang image.
func (m *TransactionValidator) goEnvFrom(base *dagger.Container) *dagger.Container {
	return m.goToolchain(base).
		WithMountedDirectory("/src", m.Source).
		WithWorkdir("/src")
}

// goToolchain is base with the Go proxy, flags and the shared module and build caches,
// and no source: a step on it is keyed by what it mounts itself. (A step on goEnv that
// replaces /src is still keyed by the whole checkout, which stays in the container's
// history.)
func (m *TransactionValidator) goToolchain(base *dagger.Container) *dagger.Container {
	return base.
		WithEnvVariable("GOPROXY", m.GoProxy).
		WithEnvVariable("GOFLAGS", "-buildvcs=false").
		WithEnvVariable("GOTOOLCHAIN", "local").
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("txv-go-mod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("txv-go-build-"+pins.GoVersion))
}

// notRunError marks a step that could not run in this environment (an air-gapped run
// without a vulnerability database, say). It is reported in every summary with its
// reason, never silently dropped, and does not fail the stage.
type notRunError struct{ reason string }

func (e *notRunError) Error() string { return "not run: " + e.reason }

func notRun(format string, args ...any) error { return &notRunError{fmt.Sprintf(format, args...)} }
