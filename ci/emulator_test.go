package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagger/transaction-validator/internal/dagger"
)

// TestLocalEnvIsDevOnTheEmulator: local plans dev's root with dev's files, S3 path-style;
// the real environments keep their own files and virtual-hosted S3.
func TestLocalEnvIsDevOnTheEmulator(t *testing.T) {
	e, err := newTofuEnv(localEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !e.local() || e.files != "dev" {
		t.Fatalf("local = %+v, want dev's files", e)
	}
	init := strings.Join(e.initArgs(), " ")
	for _, want := range []string{"-backend-config=dev.s3.tfbackend", "-backend-config=use_path_style=true", "-lockfile=readonly"} {
		if !strings.Contains(init, want) {
			t.Errorf("local init %q lacks %s", init, want)
		}
	}
	if plan := planScript(e, nil, planOptions{}); !strings.Contains(plan, "-var-file=dev.tfvars ") {
		t.Errorf("local plan does not read dev.tfvars:\n%s", plan)
	}
	for _, name := range infraEnvs {
		r, err := newTofuEnv(name)
		if err != nil {
			t.Fatal(err)
		}
		if r.local() || strings.Contains(strings.Join(r.initArgs(), " "), "use_path_style") {
			t.Errorf("%s is treated as the emulator: %v", name, r.initArgs())
		}
	}
}

// TestEmulatorOnlyForLocal: a real environment's AWS is never redirected, and local never
// runs against AWS itself.
func TestEmulatorOnlyForLocal(t *testing.T) {
	svc := new(dagger.Service)
	local, _ := newTofuEnv(localEnv)
	if err := checkEmulator(local, nil); err == nil || !strings.Contains(err.Error(), "needs --aws-endpoint") {
		t.Errorf("local without an emulator: %v", err)
	}
	if err := checkEmulator(local, svc); err != nil {
		t.Errorf("local with an emulator: %v", err)
	}
	for _, name := range infraEnvs {
		e, _ := newTofuEnv(name)
		if err := checkEmulator(e, svc); err == nil || !strings.Contains(err.Error(), "for --env local only") {
			t.Errorf("%s with an emulator: %v", name, err)
		}
		if err := checkEmulator(e, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEmulatorEnv: every SDK client goes to the emulator, S3 Control through it as a
// proxy, nothing else through the proxy; the region is dev's.
func TestEmulatorEnv(t *testing.T) {
	env := map[string]string{}
	for _, kv := range emulatorEnv("aws-emulator:5000") {
		env[kv[0]] = kv[1]
	}
	for k, want := range map[string]string{
		"AWS_ENDPOINT_URL":            "http://aws-emulator:5000",
		"HTTP_PROXY":                  "http://aws-emulator:5000",
		"NO_PROXY":                    "aws-emulator",
		"AWS_ENDPOINT_URL_S3_CONTROL": "http://s3-control.eu-central-1.amazonaws.com",
		"AWS_REGION":                  "eu-central-1",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	// S3 Control's host name carries the region: it must be the one dev's files name.
	for _, f := range []string{localFiles + ".tfvars", localFiles + ".s3.tfbackend"} {
		raw, err := os.ReadFile(filepath.Join("..", infraRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if region, err := backendSetting(string(raw), "region"); err != nil || region != emulatorRegion {
			t.Errorf("%s: region %q (%v), the emulator's requests use %q", f, region, err, emulatorRegion)
		}
	}
}

// TestEmulatorSettingsNeverCommitted: the emulator's provider settings exist only in the
// override the pipeline writes into its container; no committed root carries them.
func TestEmulatorSettingsNeverCommitted(t *testing.T) {
	for _, root := range []string{infraRoot, bootstrapRoot} {
		files, err := filepath.Glob(filepath.Join("..", root, "*.tf"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no .tf files (%v)", root, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(f) == emulatorOverride || strings.Contains(string(raw), "s3_use_path_style") || strings.Contains(string(raw), "endpoints {") {
				t.Errorf("%s carries the emulator's settings", f)
			}
		}
	}
	if !strings.Contains(emulatorProvider, "s3_use_path_style = true") || !strings.Contains(emulatorProvider, "max_retries       = 2") {
		t.Errorf("the override lost its settings:\n%s", emulatorProvider)
	}
}

func TestParseExcludes(t *testing.T) {
	got, err := parseExcludes(`# header
bootstrap module.state_bucket.aws_s3_bucket_policy.this  # TLS-only policy

envs module.platform.module.redis.aws_elasticache_user_group.this  # CreateUserGroup
envs module.platform.module.eks.aws_eks_addon.this                 # CreateAddon
`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"module.state_bucket.aws_s3_bucket_policy.this"}; !slices.Equal(got["bootstrap"], want) {
		t.Errorf("bootstrap = %v, want %v", got["bootstrap"], want)
	}
	if len(got["envs"]) != 2 || got["envs"][1] != "module.platform.module.eks.aws_eks_addon.this" {
		t.Errorf("envs = %v", got["envs"])
	}
	for name, bad := range map[string]string{
		"no reason":      "envs module.a.aws_x.y\n",
		"empty reason":   "envs module.a.aws_x.y #  \n",
		"unknown root":   "prod module.a.aws_x.y # why\n",
		"three fields":   "envs module.a.aws_x.y extra # why\n",
		"a flag":         "envs -destroy # why\n",
		"shell":          "envs aws_x.y;rm # why\n",
		"listed twice":   "envs aws_x.y # a\nenvs aws_x.y # b\n",
		"root only":      "envs # why\n",
		"not an address": "envs $(id) # why\n",
	} {
		if got, err := parseExcludes(bad); err == nil {
			t.Errorf("%s: parseExcludes(%q) = %v, want an error", name, bad, got)
		}
	}
}

// TestCommittedExcludesParse: the local environment's list is well formed, and names
// something in each root it can run.
func TestCommittedExcludesParse(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", localExcludesFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseExcludes(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", localExcludesFile, err)
	}
	if len(got["envs"]) == 0 || len(got["bootstrap"]) == 0 {
		t.Errorf("%s: %v", localExcludesFile, got)
	}
}

func TestPlanScriptOptions(t *testing.T) {
	local, _ := newTofuEnv(localEnv)
	x := []string{"module.platform.module.redis.aws_elasticache_user_group.this"}
	plan := planScript(local, nil, planOptions{excludes: x})
	if !strings.Contains(plan, "-var-file=dev.tfvars -exclude="+x[0]+" -out=/plan/tfplan") {
		t.Errorf("the local plan does not leave out its exclusions:\n%s", plan)
	}
	if !strings.Contains(plan, "-var-file=dev.tfvars -out=/run/whole.tfplan") || !strings.Contains(plan, "> /plan/plan-whole.json") {
		t.Errorf("the local plan does not plan the whole as well:\n%s", plan)
	}
	for _, f := range []string{"/plan/plan.txt", "/plan/plan.json", "/plan/tfplan.sha256"} {
		if !strings.Contains(plan, f) {
			t.Errorf("the plan does not write %s:\n%s", f, plan)
		}
	}
	d := planScript(local, nil, planOptions{excludes: x, destroy: true, lockTimeout: "0s"})
	if !strings.Contains(d, "tofu plan -lock-timeout=0s -var-file=dev.tfvars -destroy -exclude=") {
		t.Errorf("destroy plan:\n%s", d)
	}
	if strings.Contains(d, "plan-whole") {
		t.Errorf("a destroy plan plans the whole too:\n%s", d)
	}
	dev, _ := newTofuEnv("dev")
	if p := planScript(dev, nil, planOptions{}); strings.Contains(p, "-exclude") || strings.Contains(p, "plan-whole") || strings.Contains(p, "-destroy") {
		t.Errorf("dev's plan:\n%s", p)
	}
}

// A plan of two modules, as `tofu show -json` renders it (the fields the checks read).
const planFixture = `{"format_version":"1.2",
 "planned_values":{"root_module":{"child_modules":[{"resources":[{"mode":"managed"}]}]}},
 "resource_changes":[
  {"address":"module.platform.module.eks.aws_eks_cluster.this","mode":"managed","change":{"actions":["update"]}},
  {"address":"module.platform.module.kms.aws_kms_key.this[\"eks\"]","mode":"managed","change":{"actions":["no-op"]}},
  {"address":"module.platform.aws_sns_topic.alerts","mode":"managed","change":{"actions":["delete","create"]}},
  {"address":"module.platform.data.aws_caller_identity.this","mode":"data","change":{"actions":["read"]}},
  {"address":"module.platform.module.redis.aws_elasticache_user_group.this","mode":"managed","change":{"actions":["create"]}}
 ]}`

func TestPlanChecks(t *testing.T) {
	p, err := parsePlan([]byte(planFixture))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.creates(); got != 2 {
		t.Errorf("creates = %d, want 2", got)
	}
	if p.isDestroy() {
		t.Error("a plan that keeps a resource is taken for a destroy plan")
	}
	got := unexpectedChanges(p, []string{"eks", "redis"})
	if want := []string{"module.platform.aws_sns_topic.alerts delete,create"}; !slices.Equal(got, want) {
		t.Errorf("unexpectedChanges = %v, want %v", got, want)
	}
	if got := unexpectedChanges(p, nil); len(got) != 3 {
		t.Errorf("with nothing tolerated: %v", got)
	}
	stale := staleExcludes(p, []string{"module.platform.module.redis", "module.platform.module.kms.aws_kms_key.this",
		"module.platform.module.redis.aws_elasticache_user_group.this", "module.platform.module.waf", "module.platform.module.ek"})
	if want := []string{"module.platform.module.waf", "module.platform.module.ek"}; !slices.Equal(stale, want) {
		t.Errorf("staleExcludes = %v, want %v", stale, want)
	}
	destroy, err := parsePlan([]byte(`{"format_version":"1.2","planned_values":{"root_module":{}},
	 "resource_changes":[{"address":"aws_s3_bucket.b","mode":"managed","change":{"actions":["delete"]}},
	 {"address":"data.aws_region.r","mode":"data","change":{"actions":["read"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !destroy.isDestroy() {
		t.Error("a plan that removes everything is not taken for a destroy plan")
	}
	empty, _ := parsePlan([]byte(`{"format_version":"1.2","planned_values":{"root_module":{}},"resource_changes":[]}`))
	if empty.isDestroy() {
		t.Error("an empty plan is taken for a destroy plan")
	}
	for _, bad := range []string{"", "{", `{"resource_changes":[]}`, "[]"} {
		if _, err := parsePlan([]byte(bad)); err == nil {
			t.Errorf("parsePlan(%q) accepted", bad)
		}
	}
}

func TestManagedAddresses(t *testing.T) {
	got := managedAddresses("data.aws_region.current\nmodule.platform.data.aws_iam_policy_document.x\nmodule.platform.aws_sns_topic.alerts\n")
	if want := []string{"module.platform.aws_sns_topic.alerts"}; !slices.Equal(got, want) {
		t.Errorf("managedAddresses = %v, want %v", got, want)
	}
	if got := managedAddresses("\n"); len(got) != 0 {
		t.Errorf("empty state: %v", got)
	}
}

// TestBootstrapOfDevsBucket: local's bootstrap makes the bucket dev's backend names,
// as environment dev (the root knows no other), leaving out its exclusions.
func TestBootstrapOfDevsBucket(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", infraRoot, "dev.s3.tfbackend"))
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := backendSetting(string(raw), "bucket")
	if err != nil || !bucketName.MatchString(bucket) {
		t.Fatalf("dev's bucket %q: %v", bucket, err)
	}
	local, _ := newTofuEnv(localEnv)
	s := bootstrapScript(local, bucket, []string{"module.state_bucket.aws_s3_bucket_policy.this"})
	for _, want := range []string{"tofu init -lockfile=readonly", "-state=/run/bootstrap.tfstate", "-var environment=dev ",
		"-var state_bucket_name=" + bucket + " ", "-exclude=module.state_bucket.aws_s3_bucket_policy.this"} {
		if !strings.Contains(s, want) {
			t.Errorf("bootstrap script lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"x", "Upper-Case", "a;rm -rf", "-flag-bucket", "a b"} {
		if bucketName.MatchString(bad) {
			t.Errorf("bucket name %q accepted", bad)
		}
	}
	if _, err := backendSetting("key = \"k\"\n", "bucket"); err == nil {
		t.Error("a backend file without a bucket accepted")
	}
}

// TestEveryPlanIsPinnedToAnAccount holds plan, apply, destroy and bootstrap to the roots'
// required allowed_account_ids: a real environment without an account id, or with a
// malformed one, is refused before any tofu runs; local is the emulator's account.
func TestEveryPlanIsPinnedToAnAccount(t *testing.T) {
	for _, name := range infraEnvs {
		e, _ := newTofuEnv(name)
		if _, err := e.withAccount(""); err == nil || !strings.Contains(err.Error(), "--account-id") {
			t.Errorf("%s without an account id: %v, want a refusal naming --account-id", name, err)
		}
		for _, bad := range []string{"12345", "1234567890123", "12345678901a", `123456789012"]`} {
			if _, err := e.withAccount(bad); err == nil {
				t.Errorf("%s accepted account id %q", name, bad)
			}
		}
		got, err := e.withAccount("210987654321")
		if err != nil || got.account != "210987654321" {
			t.Errorf("%s with a valid id: %+v, %v", name, got, err)
		}
	}
	local, _ := newTofuEnv(localEnv)
	if got, err := local.withAccount(""); err != nil || got.account != emulatorAccount {
		t.Errorf("local: %+v, %v; want the emulator's account %s", got, err, emulatorAccount)
	}
	// Every function that plans, applies or destroys refuses a real environment without
	// --account-id before it reads its other arguments or starts a container.
	m, ctx := &TransactionValidator{}, context.Background()
	calls := map[string]func() error{
		"plan": func() error {
			_, err := m.Plan(ctx, "dev", nil, nil, nil, nil, false, "5m", "", nil)
			return err
		},
		"apply": func() error {
			_, err := m.Apply(ctx, "dev", nil, "", nil, nil, nil, nil, "5m", "", nil)
			return err
		},
		"destroy": func() error {
			_, err := m.Destroy(ctx, "dev", nil, "", nil, nil, nil, nil, "5m", "", nil)
			return err
		},
		"bootstrap": func() error {
			_, err := m.Bootstrap(ctx, "dev", nil, nil, "", nil)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "needs --account-id") {
			t.Errorf("%s --env dev without --account-id: %v, want the --account-id refusal", name, err)
		}
	}
	wf, err := os.ReadFile("../.github/workflows/infra-env.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(wf), "--account-id=${{ inputs.account-id }}"); n != 2 {
		t.Errorf("infra-env.yml passes --account-id %d times, want 2 (plan, apply)", n)
	}
}
