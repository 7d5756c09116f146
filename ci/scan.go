package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// gatedSeverities is the pipeline's one severity rule: a trivy finding (misconfiguration,
// secret, vulnerability; in the repository and in the images) of one of these severities
// fails its stage; every finding, whatever its severity, is in the reports. No other
// code applies a rule of its own: the bash suites no longer run trivy (docs/pipeline.md).
var gatedSeverities = map[string]bool{"HIGH": true, "CRITICAL": true}

// ScanReports runs the trivy scans of scan and returns their reports, whatever they found.
//
// One trivy JSON report and its SARIF copy (for GitHub code scanning) per target.
//
//	dagger call scan-reports export --path out/scan
func (m *TransactionValidator) ScanReports(ctx context.Context) (*dagger.Directory, error) {
	script, err := m.trivyScript(ctx)
	if err != nil {
		return nil, err
	}
	rendered, err := m.Render(ctx, "")
	if err != nil {
		return nil, err
	}
	c := m.trivy().
		WithMountedDirectory("/rendered", rendered).
		WithExec([]string{"sh", "-ec", script})
	return c.Directory("/reports"), nil
}

const (
	// secretConfig is trivy's secret-scanning configuration at the repository's root. It
	// disables trivy's built-in allow rules, which skip every path containing "test"
	// (every *_test.go and testdata/) before reading it; see the file for each rule.
	secretConfig = "trivy-secret.yaml"
	// secretConfigPath is where trivy() mounts it. Its base name stays trivy's default,
	// which trivy compares with each scanned path to skip the configuration file itself.
	secretConfigPath = "/etc/txv/" + secretConfig
	// secretConfigFlag is passed to every trivy run that scans for secrets: trivy quietly
	// falls back to its built-in rules when the file it is given does not exist, so the
	// file is mounted from the source, which fails the step when it is missing.
	secretConfigFlag = "--secret-config " + secretConfigPath
)

// trivy returns the trivy image with its cache and the secret-scanning configuration.
// Air-gapped, trivy uses the checks embedded in its binary instead of downloading the
// current bundle.
//
// The cache is LOCKED: trivy keeps it in a bbolt file that one process holds at a time,
// and a second trivy that waits for it gives up after a few seconds ("cache may be in use
// by another process: timeout"). scan-image scans the three images at once, so on a busy
// machine a shared cache failed the stage; the engine now runs them one after another.
func (m *TransactionValidator) trivy() *dagger.Container {
	c := m.tool(pins.Trivy).
		WithMountedFile(secretConfigPath, m.Source.File(secretConfig)).
		WithMountedCache("/root/.cache/trivy", dag.CacheVolume("txv-trivy"),
			dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithEnvVariable("TRIVY_CACHE_DIR", "/root/.cache/trivy").
		WithEnvVariable("TRIVY_QUIET", "true")
	if m.Airgapped {
		c = c.WithEnvVariable("TRIVY_SKIP_CHECK_UPDATE", "true")
	}
	return c
}

// trivyScript writes one JSON report per scan target into /reports, then a SARIF copy.
// Targets: infra modules and bootstrap with their defaults, the environments' root once per
// environment with its <env>.tfvars and <env>.trivyignore if there is one (the values that
// will really be applied), the rendered manifests with kustomize/.trivyignore.yaml, and the
// whole repository for secrets.
func (m *TransactionValidator) trivyScript(ctx context.Context) (string, error) {
	files, err := m.Source.Directory(infraRoot).Entries(ctx)
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", infraRoot, err)
	}
	return trivyScriptFor(files), nil
}

// trivyScriptFor is trivyScript given the entries of infraRoot.
func trivyScriptFor(rootFiles []string) string {
	var b strings.Builder
	b.WriteString("mkdir -p /reports\n")
	scan := func(name, args string) {
		fmt.Fprintf(&b, "trivy %s --exit-code 0 --format json --output /reports/%s.json\n", args, name)
		fmt.Fprintf(&b, "trivy convert --format sarif --output /reports/%s.sarif /reports/%s.json\n", name, name)
	}
	scan("infra-modules", "config /src/infra/modules")
	scan("infra-bootstrap", "config /src/infra/bootstrap")
	root := "/src/" + infraRoot
	for _, env := range infraEnvs {
		args := fmt.Sprintf("config --tf-vars %s/%s.tfvars", root, env)
		if slices.Contains(rootFiles, env+".trivyignore") {
			args += fmt.Sprintf(" --ignorefile %s/%s.trivyignore", root, env)
		}
		scan("infra-env-"+env, args+" "+root)
	}
	scan("manifests", "config --ignorefile /src/kustomize/.trivyignore.yaml /rendered")
	scan("secrets", "fs --scanners secret "+secretConfigFlag+" /src")
	return b.String()
}

// reports gathers the JSON and SARIF reports of every trivy scan of ci (the repository's
// targets and each image) and adds code-scanning.sarif, their SARIF runs in one file.
func (m *TransactionValidator) reports(ctx context.Context) (*dagger.Directory, error) {
	dirs := []*dagger.Directory{}
	repo, err := m.ScanReports(ctx)
	if err != nil {
		return nil, err
	}
	dirs = append(dirs, repo)
	for _, name := range workloadNames() {
		d, err := m.imageReports(ctx, name)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
	}
	all := dag.Directory()
	for _, d := range dirs {
		all = all.WithDirectory(".", d)
	}
	names, err := all.Glob(ctx, "*.sarif")
	if err != nil {
		return nil, fmt.Errorf("scan reports: %w", err)
	}
	sarifs := map[string][]byte{}
	for _, n := range names {
		raw, err := all.File(n).Contents(ctx)
		if err != nil {
			return nil, err
		}
		sarifs[strings.TrimSuffix(n, ".sarif")] = []byte(raw)
	}
	merged, err := mergeSarif(sarifs)
	if err != nil {
		return nil, err
	}
	return all.WithNewFile("code-scanning.sarif", string(merged)), nil
}

// mergeSarif puts the runs of several SARIF reports (report name -> SARIF) into one
// document. Every run is one tool (trivy) and GitHub code scanning keeps only one upload
// per tool and category, so each run gets its report's name as its category
// (automationDetails.id "trivy/<name>/"): one target's alerts never replace another's.
func mergeSarif(reports map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(reports))
	for n := range reports {
		names = append(names, n)
	}
	sort.Strings(names)
	merged := map[string]any{
		"version": "2.1.0",
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
	}
	runs := []any{}
	for _, n := range names {
		var doc struct {
			Version string
			Runs    []map[string]any
		}
		if err := json.Unmarshal(reports[n], &doc); err != nil {
			return nil, fmt.Errorf("%s.sarif: %w", n, err)
		}
		if doc.Version != "2.1.0" {
			return nil, fmt.Errorf("%s.sarif: SARIF version %q, want 2.1.0", n, doc.Version)
		}
		for _, run := range doc.Runs {
			run["automationDetails"] = map[string]any{"id": "trivy/" + n + "/"}
			runs = append(runs, run)
		}
	}
	merged["runs"] = runs
	return json.MarshalIndent(merged, "", "  ")
}

// trivyReport is the part of trivy's JSON report the gate reads.
type trivyReport struct {
	Results []trivyResult
}

// trivyResult is one target of a trivy report.
type trivyResult struct {
	Target            string
	Misconfigurations []struct {
		ID, AVDID, Title, Severity, Status string
		CauseMetadata                      struct{ StartLine int }
	}
	Secrets []struct {
		RuleID, Title, Severity string
		StartLine               int
	}
	Vulnerabilities []struct {
		VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Severity string
	}
}

// gatedFindings returns one line per HIGH or CRITICAL finding in a trivy JSON report.
func gatedFindings(report []byte) ([]string, error) {
	var r trivyReport
	if err := json.Unmarshal(report, &r); err != nil {
		return nil, fmt.Errorf("reading trivy report: %w", err)
	}
	var out []string
	for _, res := range r.Results {
		for _, f := range res.Misconfigurations {
			if f.Status == "FAIL" && gatedSeverities[f.Severity] {
				out = append(out, fmt.Sprintf("%s %s %s:%d %s", f.Severity, f.ID, res.Target, f.CauseMetadata.StartLine, f.Title))
			}
		}
		for _, f := range res.Secrets {
			if gatedSeverities[f.Severity] {
				out = append(out, fmt.Sprintf("%s secret %s %s:%d %s", f.Severity, f.RuleID, res.Target, f.StartLine, f.Title))
			}
		}
		for _, f := range res.Vulnerabilities {
			if gatedSeverities[f.Severity] {
				out = append(out, fmt.Sprintf("%s %s %s %s (fixed in %q) in %s", f.Severity, f.VulnerabilityID, f.PkgName, f.InstalledVersion, f.FixedVersion, res.Target))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// gate reads every trivy JSON report in reports and fails with the HIGH/CRITICAL findings.
func gate(ctx context.Context, reports *dagger.Directory, what string) (string, error) {
	names, err := reports.Glob(ctx, "*.json")
	if err != nil {
		return "", err
	}
	var findings []string
	for _, n := range names {
		if strings.HasPrefix(n, "checkov") {
			continue
		}
		raw, err := reports.File(n).Contents(ctx)
		if err != nil {
			return "", err
		}
		f, err := gatedFindings([]byte(raw))
		if err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		for _, line := range f {
			findings = append(findings, strings.TrimSuffix(n, ".json")+": "+line)
		}
	}
	if len(findings) > 0 {
		return "", fmt.Errorf("%s: %d HIGH/CRITICAL finding(s) (fix, or suppress with the reason next to it):\n  %s",
			what, len(findings), strings.Join(findings, "\n  "))
	}
	return fmt.Sprintf("%s: no HIGH/CRITICAL findings in %d reports", what, len(names)), nil
}

// Scan runs the IaC, manifest, secret and dependency scanners and fails on HIGH/CRITICAL.
//
// trivy on infra/ (each environment with its tfvars), on the rendered manifests and on
// the repository (secrets, Go dependencies), and checkov on infra/; every HIGH or
// CRITICAL finding is named. gitleaks (secrets) scans the tree and the git history too;
// any finding of it fails.
//
// +cache="never"
func (m *TransactionValidator) Scan(
	ctx context.Context,
	// The repository's .git, whose history gitleaks scans (see secrets).
	// +defaultPath="/"
	// +ignore=["*", "!.git", ".git/index", ".git/logs"]
	history *dagger.Directory,
	// Where the change starts, for gitleaks' history scan (see secrets). Empty: the whole
	// history reachable from HEAD.
	// +optional
	secretsBase string,
) (string, error) {
	steps := []step{
		{"trivy config + secrets", func(ctx context.Context) (string, error) {
			reports, err := m.ScanReports(ctx)
			if err != nil {
				return "", err
			}
			return gate(ctx, reports, "trivy")
		}},
		{"trivy manifests: every overlay scanned, checks live", m.scanManifestsLive},
		{"trivy dependencies (vulnerabilities)", m.scanDependencies},
		{"govulncheck (Go vulnerabilities, offline database)", func(ctx context.Context) (string, error) {
			return m.Vulncheck(ctx, vulndbMaxAgeDays)
		}},
		{"checkov", m.scanCheckov},
	}
	return runSteps(ctx, append(steps, m.secretsSteps(history, secretsBase)...)...)
}

// scanManifestsLive shows that "no findings in the manifests" means scanned and clean:
// every overlay is a target of the manifests report (trivy's directory walk skips some
// names silently, /dev among them), and a rendered overlay whose root filesystem is made
// writable is reported (KSV-0014, HIGH), so trivy's Kubernetes checks really run.
func (m *TransactionValidator) scanManifestsLive(ctx context.Context) (string, error) {
	envs, err := m.overlays(ctx)
	if err != nil {
		return "", err
	}
	reports, err := m.ScanReports(ctx)
	if err != nil {
		return "", err
	}
	raw, err := reports.File("manifests.json").Contents(ctx)
	if err != nil {
		return "", fmt.Errorf("manifests report: %w", err)
	}
	var r trivyReport
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return "", fmt.Errorf("manifests report: %w", err)
	}
	var missing []string
	for _, env := range envs {
		if !slices.ContainsFunc(r.Results, func(res trivyResult) bool { return res.Target == env+".yaml" }) {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("trivy did not scan the overlays %s (targets in manifests.json are <env>.yaml)", strings.Join(missing, ", "))
	}
	rendered, err := m.Render(ctx, "")
	if err != nil {
		return "", err
	}
	broken := m.trivy().
		WithMountedDirectory("/rendered", rendered).
		WithExec([]string{"sh", "-ec", `mkdir -p /broken /reports
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "/rendered/$1.yaml" > /broken/broken.yaml
grep -q 'readOnlyRootFilesystem: false' /broken/broken.yaml || { echo "no readOnlyRootFilesystem: true in the $1 overlay to break"; exit 1; }
trivy config --ignorefile /src/kustomize/.trivyignore.yaml --exit-code 0 --format json --output /reports/broken.json /broken`, "sh", envs[0]}).
		Directory("/reports")
	out, err := gate(ctx, broken, "trivy on a writable root filesystem")
	if err == nil {
		return out, fmt.Errorf("trivy passed an overlay with a writable root filesystem: its Kubernetes checks are not running")
	}
	if !strings.Contains(err.Error(), "KSV-0014") && !strings.Contains(err.Error(), "KSV014") {
		return "", fmt.Errorf("trivy failed the writable root filesystem, but not on KSV-0014: %w", err)
	}
	return fmt.Sprintf("trivy scanned every overlay (%s) and flags a writable root filesystem (KSV-0014)", strings.Join(envs, ", ")), nil
}

// scanDependencies checks the Go modules' dependencies against trivy's vulnerability
// database, which is downloaded from ghcr.io: an air-gapped run has none, unless a copy is
// mounted in the trivy cache (trivy's documented air-gap procedure).
func (m *TransactionValidator) scanDependencies(ctx context.Context) (string, error) {
	if m.Airgapped {
		return "", notRun("no vulnerability database offline (trivy downloads it from ghcr.io)")
	}
	c := m.trivy().WithExec([]string{"sh", "-ec",
		"mkdir -p /reports && trivy fs --scanners vuln --exit-code 0 --format json --output /reports/dependencies.json /src"})
	return gate(ctx, c.Directory("/reports"), "dependencies")
}

// Vulncheck gates on reachable known vulnerabilities in the Go code, air-gapped too.
//
// scripts/vulncheck.sh, the same gate as suite 15: govulncheck with the Go vulnerability
// database built from the pinned golang.org/x/vulndb module, in source mode on every Go
// module and in binary mode on the binaries ci's images ship. Both come from the Go module
// proxy (built once into a cache volume), never from the internet's vulnerability feeds,
// so this runs in both modes. It prints the database's date and fails when the database
// is older than maxAge days.
//
//	dagger call vulncheck
func (m *TransactionValidator) Vulncheck(
	ctx context.Context,
	// Oldest acceptable database, in days (VULNDB_MAX_AGE_DAYS).
	// +default=45
	maxAge int,
) (string, error) {
	bins := dag.Directory()
	for _, name := range workloadNames() {
		f, err := m.Binary(name, checkVersion)
		if err != nil {
			return "", err
		}
		bins = bins.WithFile(name, f, dagger.DirectoryWithFileOpts{Permissions: 0o755})
	}
	c := m.goEnv().
		WithMountedCache("/root/.cache/txv-vuln", dag.CacheVolume("txv-govulncheck")).
		WithEnvVariable("CACHE_ROOT", "/root/.cache/txv-vuln").
		WithEnvVariable("VULNDB_MAX_AGE_DAYS", fmt.Sprint(maxAge)).
		// The age check compares with today: without the date among its inputs the engine
		// would keep serving a pass cached before the database grew too old.
		WithEnvVariable("TXV_TODAY", time.Now().UTC().Format(time.DateOnly)).
		WithMountedDirectory("/bins", bins)
	out, err := run(ctx, c, "govulncheck", "bash", "scripts/vulncheck.sh", "--bin-dir", "/bins")
	if err != nil {
		return out, err
	}
	return vulncheckSummary(out), nil
}

// vulndbMaxAgeDays is the oldest database scan and ci accept, in days; Vulncheck's
// +default says the same.
const vulndbMaxAgeDays = 45

// vulncheckSummary keeps the summary of scripts/vulncheck.sh's output, from its
// "===== govulncheck" header (the database's date, one line per scan) to the end, and
// repeats the database's line and any scan that could not run as NOTE lines, which ci's
// summary shows for a passing step.
func vulncheckSummary(out string) string {
	if i := strings.LastIndex(out, "===== govulncheck"); i >= 0 {
		out = out[i:]
	}
	var notes strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Go vulnerability database of ") || strings.HasPrefix(line, "NOT RUN ") {
			notes.WriteString("NOTE " + line + "\n")
		}
	}
	return notes.String() + out
}

// scanCheckov runs checkov's Terraform policies. Its community edition carries no
// severities, so it cannot gate on HIGH/CRITICAL like trivy: it reports (soft fail).
func (m *TransactionValidator) scanCheckov(ctx context.Context) (string, error) {
	if m.Airgapped {
		return "", notRun("checkov is Python and only exists as an online image (%s)", pins.Checkov)
	}
	return run(ctx, m.tool(pins.Checkov), "checkov",
		"checkov", "--directory", "infra", "--framework", "terraform", "--compact", "--quiet", "--soft-fail")
}
