package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// infraRoot is the one Terraform root of every environment. An environment is a pair of
// files in it: <env>.s3.tfbackend (where its state lives) and <env>.tfvars (its sizes and
// HA choices); see infra/README.md.
const infraRoot = "infra/envs"

// bootstrapRoot is the root of an environment's state bucket (its KMS key and log bucket).
const bootstrapRoot = "infra/bootstrap"

// infraEnvs are the environments that have those two files.
var infraEnvs = []string{"dev", "staging", "prod"}

// tofuEnv is one environment of infraRoot, as tofu's command-line flags.
type tofuEnv struct {
	// name is the environment: one of infraEnvs, or localEnv.
	name string
	// files names its <files>.s3.tfbackend and <files>.tfvars (local uses dev's).
	files string
	// account is the AWS account the root may act on (allowed_account_ids), set by
	// withAccount; empty for what only reads state (outputs).
	account string
}

// accountID is an AWS account id as allowed_account_ids takes it.
var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// withAccount sets the account every plan and apply of e is pinned to: the roots require
// allowed_account_ids (infra/envs/variables.tf) so that credentials of another account make
// the provider stop before it reads or writes anything. It is not committed with the
// environment (an adopter's account ids are theirs), so the caller names it; local is the
// emulator's fixed account unless given.
func (e tofuEnv) withAccount(id string) (tofuEnv, error) {
	if id == "" && e.local() {
		id = emulatorAccount
	}
	if id == "" {
		return e, fmt.Errorf("--env %s needs --account-id: the environment's 12-digit AWS account id (GitHub: vars.AWS_ACCOUNT_ID); the provider refuses any other", e.name)
	}
	if !accountID.MatchString(id) {
		return e, fmt.Errorf("--account-id %q: want a 12-digit AWS account id", id)
	}
	e.account = id
	return e, nil
}

// pinnedTofuEnv is the environment every function that plans, applies or destroys acts
// on: a known name, pinned to its account (withAccount).
func pinnedTofuEnv(env, accountId string) (tofuEnv, error) {
	e, err := newTofuEnv(env)
	if err != nil {
		return e, err
	}
	return e.withAccount(accountId)
}

// newTofuEnv refuses a name that is not one of infraEnvs or localEnv: it becomes a file name.
func newTofuEnv(env string) (tofuEnv, error) {
	switch {
	case slices.Contains(infraEnvs, env):
		return tofuEnv{name: env, files: env}, nil
	case env == localEnv:
		return tofuEnv{name: localEnv, files: localFiles}, nil
	}
	return tofuEnv{}, fmt.Errorf("unknown environment %q (want %s or %s)", env, strings.Join(infraEnvs, ", "), localEnv)
}

// local is the environment on the AWS API emulator (ci/emulator.go).
func (e tofuEnv) local() bool { return e.name == localEnv }

// initArgs initialises the root against the environment's S3 backend with the provider
// versions of the committed lock file. The emulator serves S3 path-style only.
func (e tofuEnv) initArgs() []string {
	args := []string{"tofu", "init", "-lockfile=readonly", "-backend-config=" + e.files + ".s3.tfbackend"}
	if e.local() {
		args = append(args, "-backend-config=use_path_style=true")
	}
	return args
}

// subscribersPath is where plan and apply mount an environment's alert subscribers.
const subscribersPath = "/run/secrets/alert-subscribers.tfvars"

// varFlags are the -var-file flags of every plan: the environment's committed values, then
// its alert subscribers when they are given. Those come as a secret file, never committed
// (a pager endpoint's URL carries its token), and prod refuses to plan without one
// (infra/envs/variables.tf), so prod's plan and apply need them.
func (e tofuEnv) varFlags(subscribers *dagger.Secret) string {
	flags := "-var-file=" + e.files + ".tfvars"
	if subscribers != nil {
		flags += " -var-file=" + subscribersPath
	}
	return flags
}

// withSubscribers mounts the alert subscribers' var file, if any, where varFlags reads it.
func withSubscribers(c *dagger.Container, subscribers *dagger.Secret) *dagger.Container {
	if subscribers == nil {
		return c
	}
	return c.WithMountedSecret(subscribersPath, subscribers)
}

// awsCredentials are the AWS credentials of a plan or apply, as secrets. In GitHub
// Actions they are the short-lived OIDC role credentials the configure-aws-credentials
// action exports (--aws-access-key-id env:AWS_ACCESS_KEY_ID ...).
type awsCredentials struct {
	accessKeyID, secretAccessKey, sessionToken *dagger.Secret
}

func (c awsCredentials) apply(ctr *dagger.Container) *dagger.Container {
	ctr = ctr.WithSecretVariable("AWS_ACCESS_KEY_ID", c.accessKeyID).
		WithSecretVariable("AWS_SECRET_ACCESS_KEY", c.secretAccessKey)
	if c.sessionToken != nil {
		ctr = ctr.WithSecretVariable("AWS_SESSION_TOKEN", c.sessionToken)
	}
	return ctr
}

// tofuRoot returns tofu in infraRoot, initialised against env's backend; for the local
// environment, pointed at the emulator aws (which only it may have). Each call is a fresh
// container, so the .terraform directory never holds another environment's backend.
func (m *TransactionValidator) tofuRoot(ctx context.Context, env tofuEnv, creds awsCredentials, aws *dagger.Service) (*dagger.Container, error) {
	c, err := m.tofuIn(ctx, infraRoot, env, creds, aws)
	if err != nil {
		return nil, err
	}
	return c.WithExec(env.initArgs()), nil
}

// tofuIn returns tofu in root with the credentials, not initialised.
func (m *TransactionValidator) tofuIn(ctx context.Context, root string, env tofuEnv, creds awsCredentials, aws *dagger.Service) (*dagger.Container, error) {
	if err := checkEmulator(env, aws); err != nil {
		return nil, err
	}
	c := creds.apply(m.tool(pins.Tofu))
	if env.local() {
		var err error
		if c, err = m.withEmulator(ctx, c, aws); err != nil {
			return nil, err
		}
	}
	if env.account != "" {
		c = c.WithEnvVariable("TF_VAR_allowed_account_ids", `["`+env.account+`"]`)
	}
	return c.WithWorkdir("/src/"+root).
		WithEnvVariable("TF_IN_AUTOMATION", "1").
		WithEnvVariable("TF_INPUT", "0").
		WithEnvVariable("TXV_NONCE", nonce()), nil // remote state: never from the cache
}

// planOptions are the choices of a plan beyond the environment.
type planOptions struct {
	// destroy plans the removal of everything (tofu plan -destroy), for destroy.
	destroy bool
	// lockTimeout is how long to wait for the state lock ("5m" when empty).
	lockTimeout string
	// excludes are the addresses left out (the local environment's).
	excludes []string
}

func (o planOptions) lockFlag() string {
	if o.lockTimeout == "" {
		return "-lock-timeout=5m"
	}
	return "-lock-timeout=" + o.lockTimeout
}

// planScript writes the plan of env and its renderings into /plan. A local plan that
// leaves something out also writes plan-whole.json, the plan with nothing excluded: what
// the code asks for, which every exclusion must still be part of.
func planScript(env tofuEnv, subscribers *dagger.Secret, o planOptions) string {
	plan := "tofu plan " + o.lockFlag() + " " + env.varFlags(subscribers)
	if o.destroy {
		plan += " -destroy"
	}
	script := "mkdir -p /plan\n"
	if len(o.excludes) > 0 && !o.destroy {
		script += plan + ` -out=/run/whole.tfplan
tofu show -json /run/whole.tfplan > /plan/plan-whole.json
`
	}
	return script + plan + excludeFlags(o.excludes) + ` -out=/plan/tfplan
tofu show -no-color /plan/tfplan > /plan/plan.txt
tofu show -json /plan/tfplan > /plan/plan.json
sha256sum /plan/tfplan | cut -d' ' -f1 > /plan/tfplan.sha256`
}

// Plan plans one environment against its remote state and returns the plan files.
//
// The directory holds tfplan (the binary plan apply takes), plan.txt (for the reviewer),
// plan.json (for policy tools) and tfplan.sha256, the digest an approver signs off. With
// --destroy it is the plan destroy takes. The local environment (dev's files on an AWS API
// emulator, --aws-endpoint) leaves out what the emulator cannot serve and adds
// plan-whole.json, the plan with nothing left out.
//
//	dagger call plan --env staging --aws-access-key-id env:AWS_ACCESS_KEY_ID \
//	  --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY --aws-session-token env:AWS_SESSION_TOKEN \
//	  export --path out/plan-staging
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Plan(
	ctx context.Context,
	// Environment: dev, staging, prod, or local (dev on an AWS API emulator).
	env string,
	// AWS access key ID, as a secret (GitHub: env:AWS_ACCESS_KEY_ID from the OIDC role).
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, as a secret.
	awsSecretAccessKey *dagger.Secret,
	// AWS session token of temporary credentials, as a secret.
	// +optional
	awsSessionToken *dagger.Secret,
	// The environment's alert subscribers, as a secret tfvars file (alert_emails,
	// alert_https_endpoints; GitHub: env:ALERT_SUBSCRIBERS_TFVARS). Required by prod.
	// +optional
	alertSubscribers *dagger.Secret,
	// Plan the removal of everything, for destroy.
	// +optional
	destroy bool,
	// How long to wait for the state lock another run holds.
	// +default="5m"
	lockTimeout string,
	// The environment's 12-digit AWS account id, which the provider is pinned to
	// (allowed_account_ids; GitHub: vars.AWS_ACCOUNT_ID). Required but for local.
	// +optional
	accountId string,
	// The AWS API emulator of --env local, e.g. tcp://127.0.0.1:5000 (local only).
	// +optional
	awsEndpoint *dagger.Service,
) (*dagger.Directory, error) {
	e, err := pinnedTofuEnv(env, accountId)
	if err != nil {
		return nil, err
	}
	o := planOptions{destroy: destroy, lockTimeout: lockTimeout}
	if e.local() {
		if o.excludes, err = m.localExcludes(ctx, "envs"); err != nil {
			return nil, err
		}
	}
	c, err := m.tofuRoot(ctx, e, awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}, awsEndpoint)
	if err != nil {
		return nil, err
	}
	c = withSubscribers(c, alertSubscribers)
	c, err = synced(ctx, c.WithExec([]string{"sh", "-ec", planScript(e, alertSubscribers, o)}), "plan "+env)
	if err != nil {
		return nil, err
	}
	plans := c.Directory("/plan")
	if len(o.excludes) > 0 && !destroy {
		// Every exclusion must still be in the plan with nothing excluded: the list
		// names only what the code asks for.
		whole, err := plans.File("plan-whole.json").Contents(ctx)
		if err != nil {
			return nil, err
		}
		p, err := parsePlan([]byte(whole))
		if err != nil {
			return nil, err
		}
		if stale := staleExcludes(p, o.excludes); len(stale) > 0 {
			return nil, fmt.Errorf("%s excludes what the plan does not have (remove the entries): %s", localExcludesFile, strings.Join(stale, ", "))
		}
	}
	return plans, nil
}

// synced runs c's pending commands; a failure is an error that names the step and carries
// the end of the output, like run's.
func synced(ctx context.Context, c *dagger.Container, step string) (*dagger.Container, error) {
	done, err := c.Sync(ctx)
	if err != nil {
		var exit *dagger.ExecError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("%s: exit status %d\n%s", step, exit.ExitCode, tail(exit.Stdout+exit.Stderr, 80))
		}
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return done, nil
}

// approvedPlan is the plan file, once its SHA-256 is the approved one.
func approvedPlan(ctx context.Context, plan *dagger.File, approvedSha256 string) error {
	// The digest is taken in a container: the plan is binary, and File.Digest's format is
	// not the file's plain SHA-256.
	sum, err := run(ctx, dag.Container().From(pins.Debian).WithFile("/plan/tfplan", plan),
		"plan digest", "sha256sum", "/plan/tfplan")
	if err != nil {
		return err
	}
	return checkApproved(strings.Fields(sum)[0], approvedSha256)
}

// showPlan is the JSON rendering of the plan in c (at /plan/tfplan), parsed.
func showPlan(ctx context.Context, c *dagger.Container) (*tfPlan, error) {
	c, err := synced(ctx, c.WithExec([]string{"sh", "-ec", "tofu show -json /plan/tfplan > /run/plan.json"}), "tofu show -json")
	if err != nil {
		return nil, err
	}
	text, err := c.File("/run/plan.json").Contents(ctx)
	if err != nil {
		return nil, err
	}
	return parsePlan([]byte(text))
}

// approvedPlanIn is where apply and destroy start: the plan checked against the digest
// the approver saw, in a tofu container of e's root (at /plan/tfplan), and read.
func (m *TransactionValidator) approvedPlanIn(ctx context.Context, e tofuEnv, plan *dagger.File, approvedSha256 string,
	creds awsCredentials, subscribers *dagger.Secret, aws *dagger.Service) (*dagger.Container, *tfPlan, error) {
	if err := approvedPlan(ctx, plan, approvedSha256); err != nil {
		return nil, nil, err
	}
	c, err := m.tofuRoot(ctx, e, creds, aws)
	if err != nil {
		return nil, nil, err
	}
	c = withSubscribers(c, subscribers).WithFile("/plan/tfplan", plan)
	p, err := showPlan(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

// Apply applies a saved plan, and only the plan whose SHA-256 was approved.
//
// The plan's SHA-256 must equal the digest the approver saw next to it (tfplan.sha256 of
// plan), and a plan that removes everything is destroy's, never apply's. A stale plan is
// refused by tofu itself (the state changed since). Afterwards a smoke test plans again:
// the environment must show no changes (local: none outside the modules whose attributes
// the emulator does not round-trip).
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Apply(
	ctx context.Context,
	// Environment: dev, staging, prod, or local (dev on an AWS API emulator).
	env string,
	// The tfplan file from plan.
	plan *dagger.File,
	// SHA-256 of that file as approved (hex).
	approvedSha256 string,
	// AWS access key ID, as a secret (GitHub: env:AWS_ACCESS_KEY_ID from the OIDC role).
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, as a secret.
	awsSecretAccessKey *dagger.Secret,
	// AWS session token of temporary credentials, as a secret.
	// +optional
	awsSessionToken *dagger.Secret,
	// The environment's alert subscribers, as a secret tfvars file (alert_emails,
	// alert_https_endpoints; GitHub: env:ALERT_SUBSCRIBERS_TFVARS). Required by prod.
	// +optional
	alertSubscribers *dagger.Secret,
	// How long to wait for the state lock another run holds.
	// +default="5m"
	lockTimeout string,
	// The environment's 12-digit AWS account id, which the provider is pinned to
	// (allowed_account_ids; GitHub: vars.AWS_ACCOUNT_ID). Required but for local.
	// +optional
	accountId string,
	// The AWS API emulator of --env local, e.g. tcp://127.0.0.1:5000 (local only).
	// +optional
	awsEndpoint *dagger.Service,
) (string, error) {
	e, err := pinnedTofuEnv(env, accountId)
	if err != nil {
		return "", err
	}
	o := planOptions{lockTimeout: lockTimeout}
	if e.local() {
		if o.excludes, err = m.localExcludes(ctx, "envs"); err != nil {
			return "", err
		}
	}
	c, p, err := m.approvedPlanIn(ctx, e, plan, approvedSha256,
		awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}, alertSubscribers, awsEndpoint)
	if err != nil {
		return "", err
	}
	if p.isDestroy() {
		return "", fmt.Errorf("refusing to apply: the plan removes everything; that is destroy's (dagger call destroy)")
	}
	out, err := run(ctx, c, "apply", "tofu", "apply", o.lockFlag(), "/plan/tfplan")
	if err != nil {
		return out, err
	}
	out += fmt.Sprintf("\napplied: %d resources created or replaced\n", p.creates())
	// Smoke test: what is deployed is what the code says.
	c = c.WithEnvVariable("TXV_NONCE", nonce())
	again := "tofu plan -detailed-exitcode " + o.lockFlag() + " " + e.varFlags(alertSubscribers) + excludeFlags(o.excludes)
	if !e.local() {
		// Exit 0 = no changes, 2 = drift.
		smoke, err := run(ctx, c, "post-apply plan (no changes expected)", strings.Fields(again)...)
		if err != nil {
			return out + smoke, fmt.Errorf("applied, but the environment still differs from the code: %w", err)
		}
		return out + "smoke test: no changes after apply\n", nil
	}
	// Local: the emulator does not return every attribute as written; the changes of the
	// modules it does not round-trip are listed, any other fails the smoke test.
	c, err = synced(ctx, c.WithExec([]string{"sh", "-ec", `rc=0; ` + again + ` -out=/run/again.tfplan >/run/again.log 2>&1 || rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { cat /run/again.log; exit $rc; }
tofu show -json /run/again.tfplan > /run/again.json`}), "post-apply plan")
	if err != nil {
		return out, fmt.Errorf("applied, but the plan after it failed: %w", err)
	}
	text, err := c.File("/run/again.json").Contents(ctx)
	if err != nil {
		return out, err
	}
	ap, err := parsePlan([]byte(text))
	if err != nil {
		return out, err
	}
	for _, ch := range ap.changes() {
		out += "post-apply plan: " + ch + "\n"
	}
	if bad := unexpectedChanges(ap, localRoundTripExceptions); len(bad) > 0 {
		return out, fmt.Errorf("applied, but the plan after it changes %d resource(s) of modules the emulator round-trips:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	return out + fmt.Sprintf("smoke test: no changes after apply outside %s (the emulator does not round-trip them)\n", strings.Join(localRoundTripExceptions, ", ")), nil
}

// Destroy applies an approved destroy plan (plan --destroy) and checks the state is empty.
//
// Gated like apply: the digest must be the approved one, and the plan must remove
// everything (a plan that leaves anything is apply's).
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Destroy(
	ctx context.Context,
	// Environment: dev, staging, prod, or local (dev on an AWS API emulator).
	env string,
	// The tfplan file from plan --destroy.
	plan *dagger.File,
	// SHA-256 of that file as approved (hex).
	approvedSha256 string,
	// AWS access key ID, as a secret.
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, as a secret.
	awsSecretAccessKey *dagger.Secret,
	// AWS session token of temporary credentials, as a secret.
	// +optional
	awsSessionToken *dagger.Secret,
	// The environment's alert subscribers, as a secret tfvars file. Required by prod.
	// +optional
	alertSubscribers *dagger.Secret,
	// How long to wait for the state lock another run holds.
	// +default="5m"
	lockTimeout string,
	// The environment's 12-digit AWS account id, which the provider is pinned to
	// (allowed_account_ids; GitHub: vars.AWS_ACCOUNT_ID). Required but for local.
	// +optional
	accountId string,
	// The AWS API emulator of --env local, e.g. tcp://127.0.0.1:5000 (local only).
	// +optional
	awsEndpoint *dagger.Service,
) (string, error) {
	e, err := pinnedTofuEnv(env, accountId)
	if err != nil {
		return "", err
	}
	c, p, err := m.approvedPlanIn(ctx, e, plan, approvedSha256,
		awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}, alertSubscribers, awsEndpoint)
	if err != nil {
		return "", err
	}
	if !p.isDestroy() {
		return "", fmt.Errorf("refusing to destroy: the plan leaves resources in place; destroy takes only a plan of plan --destroy")
	}
	o := planOptions{lockTimeout: lockTimeout}
	out, err := run(ctx, c, "destroy", "tofu", "apply", o.lockFlag(), "/plan/tfplan")
	if err != nil {
		return out, err
	}
	left, err := run(ctx, c.WithEnvVariable("TXV_NONCE", nonce()), "state list", "tofu", "state", "list")
	if err != nil {
		return out, err
	}
	if kept := managedAddresses(left); len(kept) > 0 {
		return out, fmt.Errorf("destroyed, but the state still holds %d resource(s): %s", len(kept), strings.Join(kept, ", "))
	}
	return out + "\ndestroyed: the state holds no resource\n", nil
}

// managedAddresses are the managed resources of `tofu state list` output (no data sources).
func managedAddresses(stateList string) []string {
	var out []string
	for _, a := range strings.Fields(stateList) {
		if strings.HasPrefix(a, "data.") || strings.Contains(a, ".data.") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Bootstrap creates the local environment's state bucket on the AWS API emulator.
//
// It applies infra/bootstrap (KMS key, versioned and encrypted bucket, access-log bucket)
// and returns that root's own state (kept by the caller: it is the only record of it).
//
// Local only: a real environment's state bucket is created once by an administrator of its
// account (infra/bootstrap/README.md), never by the pipeline's role. What the emulator
// cannot serve is left out as listed in scripts/infra-emulator.exclude (root bootstrap).
//
// +cache="never"
func (m *TransactionValidator) Bootstrap(
	ctx context.Context,
	// Environment: local (dev's state bucket, on the emulator).
	env string,
	// AWS access key ID the emulator accepts, as a secret.
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, as a secret.
	awsSecretAccessKey *dagger.Secret,
	// The environment's 12-digit AWS account id, which the provider is pinned to
	// (allowed_account_ids; GitHub: vars.AWS_ACCOUNT_ID). Required but for local.
	// +optional
	accountId string,
	// The AWS API emulator, e.g. tcp://127.0.0.1:5000.
	awsEndpoint *dagger.Service,
) (*dagger.File, error) {
	e, err := pinnedTofuEnv(env, accountId)
	if err != nil {
		return nil, err
	}
	if !e.local() {
		return nil, fmt.Errorf("bootstrap --env %s: the pipeline bootstraps only %s; a real environment's state bucket is made once by its account's administrator (infra/bootstrap/README.md)", env, localEnv)
	}
	backend, err := m.Source.File(infraRoot + "/" + e.files + ".s3.tfbackend").Contents(ctx)
	if err != nil {
		return nil, err
	}
	bucket, err := backendSetting(backend, "bucket")
	if err != nil {
		return nil, fmt.Errorf("%s/%s.s3.tfbackend: %w", infraRoot, e.files, err)
	}
	if !bucketName.MatchString(bucket) {
		return nil, fmt.Errorf("%s/%s.s3.tfbackend: %q is not an S3 bucket name", infraRoot, e.files, bucket)
	}
	excludes, err := m.localExcludes(ctx, "bootstrap")
	if err != nil {
		return nil, err
	}
	c, err := m.tofuIn(ctx, bootstrapRoot, e, awsCredentials{awsAccessKeyId, awsSecretAccessKey, nil}, awsEndpoint)
	if err != nil {
		return nil, err
	}
	c, err = synced(ctx, c.WithExec([]string{"sh", "-ec", bootstrapScript(e, bucket, excludes)}), "bootstrap "+env)
	if err != nil {
		return nil, err
	}
	return c.File("/run/bootstrap.tfstate"), nil
}

// bucketName is an S3 bucket name (it goes into a shell command).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// bootstrapScript applies infra/bootstrap for e with its state in /run/bootstrap.tfstate.
func bootstrapScript(e tofuEnv, bucket string, excludes []string) string {
	return `tofu init -lockfile=readonly
tofu apply -auto-approve -state=/run/bootstrap.tfstate -var environment=` + e.files +
		` -var state_bucket_name=` + bucket + excludeFlags(excludes)
}

// checkApproved refuses a plan whose SHA-256 (hex) is not the approved one.
func checkApproved(got, approved string) error {
	if want := strings.ToLower(strings.TrimSpace(approved)); got != want {
		return fmt.Errorf("refusing to apply: the plan's SHA-256 is %s, the approved one %q", got, approved)
	}
	return nil
}
