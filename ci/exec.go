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
// the step with the end of the output.
func output(ctx context.Context, done *dagger.Container, step string) (string, error) {
	stdout, err := done.Stdout(ctx)
	if err != nil {
		var exit *dagger.ExecError
		if errors.As(err, &exit) {
			out := exit.Stdout + exit.Stderr
			return out, fmt.Errorf("%s: exit status %d\n%s", step, exit.ExitCode, tail(out, 80))
		}
		return "", fmt.Errorf("%s: %w", step, err)
	}
	stderr, err := done.Stderr(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	return stdout + stderr, nil
}

// sh runs a shell script in c, for steps that are a pipeline of commands.
func sh(ctx context.Context, c *dagger.Container, step, script string) (string, error) {
	return run(ctx, c, step, "sh", "-ec", script)
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
			// A passing step's NOTE lines (the vulnerability database's date) stay in
			// the summary, like NOT RUN lines.
			for _, line := range strings.Split(o.out, "\n") {
				if strings.HasPrefix(line, "NOTE ") {
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
// outside it (modules refer to each other by relative paths inside infra/), so a change
// anywhere else in the checkout (svc/, the docs, the stamp the Dagger CLI writes on
// dagger.json) is not an input of their steps, the slowest of ci (tofu test in every
// module) included. Whether the engine still holds such a step's result is its garbage
// collector's call (airgap/dagger's engine.toml caps it at 20 GB).
func (m *TransactionValidator) infraTool(image string) *dagger.Container {
	return dag.Container().From(image).
		WithUser("0").
		WithMountedDirectory("/src", dag.Directory().WithDirectory("infra", m.Source.Directory("infra"))).
		WithWorkdir("/src")
}

// goEnv returns the golang image with the source at /src and the module and build caches
// shared by every Go stage.
func (m *TransactionValidator) goEnv() *dagger.Container {
	return m.goEnvFrom(dag.Container().From(pins.Golang))
}

// goEnvFrom is goEnv on top of base, an image derived from the golang image.
func (m *TransactionValidator) goEnvFrom(base *dagger.Container) *dagger.Container {
	return base.
		WithEnvVariable("GOPROXY", m.GoProxy).
		WithEnvVariable("GOFLAGS", "-buildvcs=false").
		WithEnvVariable("GOTOOLCHAIN", "local").
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("txv-go-mod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("txv-go-build-"+pins.GoVersion)).
		WithMountedDirectory("/src", m.Source).
		WithWorkdir("/src")
}

// notRunError marks a step that could not run in this environment (an air-gapped run
// without a vulnerability database, say). It is reported in every summary with its
// reason, never silently dropped, and does not fail the stage.
type notRunError struct{ reason string }

func (e *notRunError) Error() string { return "not run: " + e.reason }

func notRun(format string, args ...any) error { return &notRunError{fmt.Sprintf(format, args...)} }
