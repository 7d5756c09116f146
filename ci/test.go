package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// Test runs the service's Go test suite, the same one scripts/test.sh runs.
//
// scripts/suites/10-service.sh: gofmt, go vet, `go test -race` with the integration tests
// on real PostgreSQL, Redis, PgBouncer, S3 and Chromium that the tests start themselves,
// then every fuzz target briefly; including the service against a PostgreSQL and a Redis
// started as Dagger services, reached by name over the network as in a cluster. The
// manifests' rule tests run in validate.
//
// +cache="never"
func (m *TransactionValidator) Test(
	ctx context.Context,
	// How long each fuzz target runs (a Go duration).
	// +default="15s"
	fuzzTime string,
) (string, error) {
	c, src, err := m.testEnv(ctx)
	if err != nil {
		return "", err
	}
	password, err := sourceScopedSecret(ctx, src, "test-postgres-password")
	if err != nil {
		return "", err
	}
	c = c.
		WithServiceBinding("postgres", postgresService(password)).
		WithServiceBinding("redis", redisService()).
		WithSecretVariable("PGPASSWORD", password).
		WithEnvVariable("TXV_REQUIRE_EXTERNAL", "1").
		WithEnvVariable("TXV_EXTERNAL_REDIS_ENDPOINT", "redis:6379").
		WithEnvVariable("FUZZTIME", fuzzTime)
	// The URL is assembled in the container so the password never appears in the
	// pipeline's arguments or logs.
	// PGPASSWORD goes once the URL holds it: pgx would take it as every password-less
	// URL's password, the IAM-login tests' included.
	return sh(ctx, c, "go test", `export TXV_EXTERNAL_DATABASE_URL="postgres://postgres:${PGPASSWORD}@postgres:5432/postgres?sslmode=disable"
unset PGPASSWORD
bash scripts/suites/10-service.sh`)
}

// moduleTestPackages are the Debian packages the tests of the modules other than the root
// run: LuaJIT, the Lua that Fluent Bit embeds, for the log PAN-redaction filter's tests
// (kustomize/logging_test.go; suite 30 installs the same package on a host).
const moduleTestPackages = "luajit"

// moduleTests runs `go test` in every Go module but the root (goModules), with
// TXV_REQUIRE_SERVERS=1: a test that needs an engine it cannot find (LuaJIT) fails
// instead of skipping, so a missing package cannot pass as a green stage.
func (m *TransactionValidator) moduleTests(ctx context.Context) (string, error) {
	mods, err := m.goModules(ctx)
	if err != nil {
		return "", err
	}
	c := m.goEnvFrom(withDebianPackages(dag.Container().From(pins.Golang), moduleTestPackages)).
		WithEnvVariable("TXV_REQUIRE_SERVERS", "1")
	return sh(ctx, c, "go test (modules but the root)", moduleTestScript(mods))
}

// moduleTestScript is the shell of moduleTests for the modules given; "." is left out.
func moduleTestScript(mods []string) string {
	// Every module is tested before the step fails; the failing tests' own lines (their
	// names and t.Error messages) are repeated at the end, where the stage's report (the
	// output's tail) shows them.
	script := "failed=\"\"\n: > \"${TMPDIR:-/tmp}/failures\"\n"
	for _, mod := range mods {
		if mod == "." {
			continue
		}
		script += fmt.Sprintf(`echo "--- go test %[1]s"
if [ -z "$(cd %[1]s && go list -e ./... 2>/dev/null)" ]; then
  echo "%[1]s: no Go packages (a go.mod that pins what a build script compiles)"
elif ! (cd %[1]s && go test -count=1 ./...) > "${TMPDIR:-/tmp}/go-test.log" 2>&1; then
  cat "${TMPDIR:-/tmp}/go-test.log"
  failed="$failed %[1]s"; grep -E '^\s*--- FAIL|^FAIL|panic:|^\s+[A-Za-z0-9_]+_test\.go:[0-9]+: ' "${TMPDIR:-/tmp}/go-test.log" | head -60 >> "${TMPDIR:-/tmp}/failures" || true
else
  cat "${TMPDIR:-/tmp}/go-test.log"
fi
`, mod)
	}
	script += `if [ -n "$failed" ]; then
  echo "go test FAILED in:$failed"; cat "${TMPDIR:-/tmp}/failures"; exit 1
fi
`
	return script
}

// testInputs are the files the Go tests read from directories the test stage leaves out:
// svc/internal/monitoring checks every alert's runbook_url against docs/runbook.md, and
// svc/internal/fxrates holds the CloudWatch alarms of infra/modules/observability to the
// ETL's metrics. TestTestStageHasEveryFileTheTestsRead finds them in the tests' sources;
// testFiles adds them from New's infra and runbook uploads.
var testInputs = []string{
	"docs/runbook.md",
	"infra/modules/observability/main.tf",
	"infra/modules/observability/variables.tf",
}

// testsLeftOut are the parts of the checkout the root module's Go tests do not read
// (top-level entries, or kustomize's), which New's tests argument leaves out
// (TestTestsViewMatchesTestsLeftOut) but for testInputs.
var testsLeftOut = []string{"infra", "docs", ".github", "kustomize/overlays", "ci", "dagger.json"}

// sameTests fails unless tests, New's upload of what the root module's Go tests read,
// holds the same files as source without testsLeftOut: part by part, since a directory
// cut by file operations has another digest than the same files uploaded (sameContent).
func sameTests(ctx context.Context, tests, source *dagger.Directory) error {
	for _, dir := range []string{".", "kustomize"} {
		entries, err := source.Directory(dir).Entries(ctx)
		if err != nil {
			return fmt.Errorf("--source: %s: %w", dir, err)
		}
		want := map[string]bool{}
		for _, e := range entries {
			name := strings.TrimSuffix(e, "/")
			p := path.Join(dir, name)
			if slices.Contains(testsLeftOut, p) {
				continue
			}
			want[name] = true
			if p == "kustomize" {
				continue // compared entry by entry
			}
			digest := fileDigest
			if strings.HasSuffix(e, "/") {
				digest = func(d *dagger.Directory, p string) digestFunc { return d.Directory(p).Digest }
			}
			if err := sameContent(ctx, "--tests", p, digest(tests, p), digest(source, p)); err != nil {
				return err
			}
		}
		got, err := tests.Directory(dir).Entries(ctx)
		if err != nil {
			return fmt.Errorf("--tests: %s: %w", dir, err)
		}
		for _, e := range got {
			if name := strings.TrimSuffix(e, "/"); !want[name] {
				return fmt.Errorf("--tests holds %s, which --source's tests do not: give the same checkout to "+
					"--source and --tests", path.Join(dir, name))
			}
		}
	}
	return nil
}

// testInputUpload names New's upload that holds the test input f: "infra", "runbook", or
// "" for none.
func testInputUpload(f string) string {
	switch {
	case f == "docs/runbook.md":
		return "runbook"
	case strings.HasPrefix(f, "infra/"):
		return "infra"
	}
	return ""
}

// testFiles is the tests' upload with testInputs added from the uploads that hold them
// (New): each is keyed by its own content, so the test stage stays cached when only the
// rest of the checkout changes.
func (m *TransactionValidator) testFiles() (*dagger.Directory, error) {
	src := m.Tests
	for _, f := range testInputs {
		switch testInputUpload(f) {
		case "runbook":
			src = src.WithFile(f, m.Runbook)
		case "infra":
			src = src.WithFile(f, m.Infra.File(f))
		default:
			return nil, fmt.Errorf("test input %s: no upload of New holds it (infra/ or docs/runbook.md)", f)
		}
	}
	return src, nil
}

// testEnv is the golang image plus the Debian packages the integration tests start
// (DEBIAN_TEST_PACKAGES in airgap/versions.env) and gcc for the race detector, installed
// in a layer of their own so a source change does not reinstall them, with the tests'
// own upload at /src (New): the engine keys a step by the whole upload its input was cut
// from (dagger/dagger#10992, #9717), so only that keeps the stage cached when only the
// rest of the checkout changes.
func (m *TransactionValidator) testEnv(ctx context.Context) (*dagger.Container, *dagger.Directory, error) {
	versions, err := m.Tests.File("airgap/versions.env").Contents(ctx)
	if err != nil {
		return nil, nil, err
	}
	packages, err := debianTestPackages(versions)
	if err != nil {
		return nil, nil, fmt.Errorf("airgap/versions.env: %w", err)
	}
	base := withDebianPackages(dag.Container().From(pins.Golang), "gcc libc6-dev "+packages)
	// The two Go tools the suite runs come from their pinned images, where the host
	// builds them from the Go proxy: compiling Prometheus here cost minutes on every cold
	// engine.
	tools := dag.Directory().
		WithFile("versitygw", dag.Container().From(pins.Versitygw).File(pins.VersitygwBinary)).
		WithFile("promtool", dag.Container().From(pins.Prometheus).File(pins.PromtoolBinary))
	src, err := m.testFiles()
	if err != nil {
		return nil, nil, err
	}
	return m.goToolchain(base).
		WithDirectory("/opt/txv-test-tools", tools).
		WithEnvVariable("VERSITYGW_BIN", "/opt/txv-test-tools/versitygw").
		WithEnvVariable("PROMTOOL_BIN", "/opt/txv-test-tools/promtool").
		WithMountedDirectory("/src", src).
		WithWorkdir("/src"), src, nil
}

// debianPackageList is a space-separated list of Debian package names, and nothing a
// shell would read as more than that.
var debianPackageList = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*( [a-z0-9][a-z0-9.+-]*)*$`)

// debianTestPackages returns DEBIAN_TEST_PACKAGES from the text of airgap/versions.env.
func debianTestPackages(versions string) (string, error) {
	env, err := pins.ParseEnv(versions)
	if err != nil {
		return "", err
	}
	packages, ok := env["DEBIAN_TEST_PACKAGES"]
	if !ok {
		return "", fmt.Errorf("no DEBIAN_TEST_PACKAGES")
	}
	if !debianPackageList.MatchString(packages) {
		return "", fmt.Errorf("DEBIAN_TEST_PACKAGES=%q is not a space-separated list of Debian package names", packages)
	}
	return packages, nil
}

// withDebianPackages installs packages (space-separated) from Debian in a layer of its own.
func withDebianPackages(c *dagger.Container, packages string) *dagger.Container {
	return c.WithExec([]string{"sh", "-ec", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq " +
		"--no-install-recommends " + packages + " >/dev/null && rm -rf /var/lib/apt/lists/*"})
}

// postgresService is PostgreSQL from Debian's package, listening on 5432 with password
// authentication, for tests that reach it over the network.
func postgresService(password *dagger.Secret) *dagger.Service {
	return withDebianPackages(dag.Container().From(pins.Debian), "postgresql").
		WithSecretVariable("POSTGRES_PASSWORD", password).
		WithExposedPort(5432).
		AsService(dagger.ContainerAsServiceOpts{Args: []string{"sh", "-ec", `bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
data=/var/lib/postgresql/test && rm -rf "$data" && install -d -o postgres "$data"
printf '%s' "$POSTGRES_PASSWORD" > /tmp/pw && chown postgres /tmp/pw
su postgres -s /bin/sh -c "$bin/initdb -D $data -U postgres --pwfile=/tmp/pw -A scram-sha-256 -E UTF8 --locale=C --no-sync >/dev/null"
rm /tmp/pw
echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data -c listen_addresses='*' -c fsync=off"`}})
}

// redisService is Redis from Debian's package on 6379. No password: only containers the
// pipeline binds to it can reach it.
func redisService() *dagger.Service {
	return withDebianPackages(dag.Container().From(pins.Debian), "redis-server").
		WithExposedPort(6379).
		AsService(dagger.ContainerAsServiceOpts{Args: []string{"redis-server", "--bind", "0.0.0.0",
			"--protected-mode", "no", "--save", "", "--appendonly", "no"}})
}

// sourceScopedSecret is a credential for servers that live as long as one stage run: a
// hash of the digest of the stage's source, so it differs for every change of the code it
// tests (and is never written anywhere) yet stays the same for the same code, which keeps
// the stage cacheable.
func sourceScopedSecret(ctx context.Context, src *dagger.Directory, name string) (*dagger.Secret, error) {
	digest, err := src.Digest(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(name + "\x00" + digest))
	return dag.SetSecret("txv-"+name, hex.EncodeToString(sum[:16])), nil
}

// randomSecret makes a fresh random secret of size bytes (hex-encoded), for credentials of servers that must never be
// reused from the cache (a canary's, started anew for every deploy).
func randomSecret(name string, size int) (*dagger.Secret, string, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	v := hex.EncodeToString(b)
	return dag.SetSecret(name+"-"+v[:8], v), v, nil
}
