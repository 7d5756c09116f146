package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// infraRoot is the one Terraform root of every environment. An environment is a pair of
// files in it: <env>.s3.tfbackend (where its state lives) and <env>.tfvars (its sizes and
// HA choices); see infra/README.md.
const infraRoot = "infra/envs"

// infraEnvs are the environments that have those two files.
var infraEnvs = []string{"dev", "staging", "prod"}

// tofuEnv is one environment of infraRoot, as tofu's command-line flags.
type tofuEnv string

// newTofuEnv refuses a name that is not one of infraEnvs: it becomes a file name.
func newTofuEnv(env string) (tofuEnv, error) {
	if !slices.Contains(infraEnvs, env) {
		return "", fmt.Errorf("unknown environment %q (want %s)", env, strings.Join(infraEnvs, ", "))
	}
	return tofuEnv(env), nil
}

// initArgs initialises the root against the environment's S3 backend with the provider
// versions of the committed lock file.
func (e tofuEnv) initArgs() []string {
	return []string{"tofu", "init", "-lockfile=readonly", "-backend-config=" + string(e) + ".s3.tfbackend"}
}

// subscribersPath is where plan and apply mount an environment's alert subscribers.
const subscribersPath = "/run/secrets/alert-subscribers.tfvars"

// varFlags are the -var-file flags of every plan: the environment's committed values, then
// its alert subscribers when they are given. Those come as a secret file, never committed
// (a pager endpoint's URL carries its token), and prod refuses to plan without one
// (infra/envs/variables.tf), so prod's plan and apply need them.
func (e tofuEnv) varFlags(subscribers *dagger.Secret) string {
	flags := "-var-file=" + string(e) + ".tfvars"
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

// tofuRoot returns tofu in infraRoot, initialised against env's backend. Each call is a
// fresh container, so the .terraform directory never holds another environment's backend.
func (m *TransactionValidator) tofuRoot(env tofuEnv, creds awsCredentials) *dagger.Container {
	return creds.apply(m.tool(pins.Tofu)).
		WithWorkdir("/src/"+infraRoot).
		WithEnvVariable("TF_IN_AUTOMATION", "1").
		WithEnvVariable("TF_INPUT", "0").
		WithEnvVariable("TXV_NONCE", nonce()). // remote state: never from the cache
		WithExec(env.initArgs())
}

// planScript writes the plan of env and its renderings into /plan.
func planScript(env tofuEnv, subscribers *dagger.Secret) string {
	return `mkdir -p /plan
tofu plan -lock-timeout=5m ` + env.varFlags(subscribers) + ` -out=/plan/tfplan
tofu show -no-color /plan/tfplan > /plan/plan.txt
tofu show -json /plan/tfplan > /plan/plan.json
sha256sum /plan/tfplan | cut -d' ' -f1 > /plan/tfplan.sha256`
}

// Plan plans one environment against its remote state and returns the plan files.
//
// The directory holds tfplan (the binary plan apply takes), plan.txt (for the reviewer),
// plan.json (for policy tools) and tfplan.sha256, the digest an approver signs off.
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
	// Environment: dev, staging or prod.
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
) (*dagger.Directory, error) {
	e, err := newTofuEnv(env)
	if err != nil {
		return nil, err
	}
	c := withSubscribers(m.tofuRoot(e, awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}), alertSubscribers).
		WithExec([]string{"sh", "-ec", planScript(e, alertSubscribers)})
	if _, err := c.Sync(ctx); err != nil {
		return nil, fmt.Errorf("plan %s: %w", env, err)
	}
	return c.Directory("/plan"), nil
}

// Apply applies a saved plan, and only the plan whose SHA-256 was approved.
//
// The plan's SHA-256 must equal the digest the approver saw next to it (tfplan.sha256 of
// plan). A stale plan is refused by tofu itself (the state changed since). Afterwards a
// smoke test plans again: the environment must show no changes.
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Apply(
	ctx context.Context,
	// Environment: dev, staging or prod.
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
) (string, error) {
	e, err := newTofuEnv(env)
	if err != nil {
		return "", err
	}
	// The digest is taken in a container: the plan is binary, and File.Digest's format is
	// not the file's plain SHA-256.
	sum, err := run(ctx, dag.Container().From(pins.Debian).WithFile("/plan/tfplan", plan),
		"plan digest", "sha256sum", "/plan/tfplan")
	if err != nil {
		return "", err
	}
	if err := checkApproved(strings.Fields(sum)[0], approvedSha256); err != nil {
		return "", err
	}
	c := withSubscribers(m.tofuRoot(e, awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}), alertSubscribers).
		WithFile("/plan/tfplan", plan)
	out, err := run(ctx, c, "apply", "tofu", "apply", "-lock-timeout=5m", "/plan/tfplan")
	if err != nil {
		return out, err
	}
	// Smoke test: what is deployed is what the code says (exit 0 = no changes, 2 = drift).
	smoke, err := run(ctx, c.WithEnvVariable("TXV_NONCE", nonce()), "post-apply plan (no changes expected)",
		append([]string{"tofu", "plan", "-detailed-exitcode", "-lock-timeout=5m"}, strings.Fields(e.varFlags(alertSubscribers))...)...)
	if err != nil {
		return out + smoke, fmt.Errorf("applied, but the environment still differs from the code: %w", err)
	}
	return out + "\nsmoke test: no changes after apply\n", nil
}

// checkApproved refuses a plan whose SHA-256 (hex) is not the approved one.
func checkApproved(got, approved string) error {
	if want := strings.ToLower(strings.TrimSpace(approved)); got != want {
		return fmt.Errorf("refusing to apply: the plan's SHA-256 is %s, the approved one %q", got, approved)
	}
	return nil
}
