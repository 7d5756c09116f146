package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"dagger/transaction-validator/internal/dagger"
)

// How Terraform's outputs reach a deploy. The committed overlays hold no account id or
// ARN: deploy is given the environment's `tofu output -json` (a plain JSON document, from
// the outputs function or any other reader of the state), renders it into the overlay's
// terraform-outputs.yaml with kustomize/tfoutputs, which refuses missing outputs and
// placeholders, builds the overlay, and checks the result once more, all before the first
// kubectl call.

// localOutputs is the outputs document of the "local" environment, the throwaway cluster
// of airgap/k8s, used when deploy --env local is given none.
const localOutputs = "airgap/k8s/tofu-outputs.json"

// exampleOutputs is the example outputs document of an overlay, used to render the
// overlays for schema validation and scanning (never for a deploy).
func exampleOutputs(overlay string) string {
	return "kustomize/testdata/tofu-output/" + overlay + ".json"
}

// Outputs returns an environment's Terraform outputs, the document deploy takes as --outputs.
//
// It is `tofu output -json` of infra/envs on the environment's remote state.
//
//	dagger call outputs --env staging --aws-access-key-id env:AWS_ACCESS_KEY_ID \
//	  --aws-secret-access-key env:AWS_SECRET_ACCESS_KEY --aws-session-token env:AWS_SESSION_TOKEN \
//	  export --path "$RUNNER_TEMP/outputs.json"
//
// It reads the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Outputs(
	ctx context.Context,
	// Environment: dev, staging or prod.
	env string,
	// AWS access key ID, as a secret (read access to the environment's state bucket).
	awsAccessKeyId *dagger.Secret,
	// AWS secret access key, as a secret.
	awsSecretAccessKey *dagger.Secret,
	// AWS session token of temporary credentials, as a secret.
	// +optional
	awsSessionToken *dagger.Secret,
) (*dagger.File, error) {
	e, err := newTofuEnv(env)
	if err != nil {
		return nil, err
	}
	c, err := m.tofuRoot(ctx, e, awsCredentials{awsAccessKeyId, awsSecretAccessKey, awsSessionToken}, nil)
	if err != nil {
		return nil, err
	}
	c = c.WithExec([]string{"sh", "-ec", "tofu output -json > /run/tofu-output.json"})
	if _, err := c.Sync(ctx); err != nil {
		return nil, fmt.Errorf("tofu output -json of %s: %w", env, err)
	}
	return c.File("/run/tofu-output.json"), nil
}

// outputsFor returns the outputs document a deploy of env renders with: the one given, or
// for "local" only, the local environment's own.
func (m *TransactionValidator) outputsFor(env string, given *dagger.File) (*dagger.File, error) {
	if given != nil {
		return given, nil
	}
	path, err := defaultOutputs(env)
	if err != nil {
		return nil, err
	}
	return m.Source.File(path), nil
}

// defaultOutputs is the outputs document of env when deploy is given none: only "local"
// has one; a real environment's values must come from its state.
func defaultOutputs(env string) (string, error) {
	if env == "local" {
		return localOutputs, nil
	}
	return "", fmt.Errorf("deploy --env %s needs --outputs: the JSON `tofu -chdir=infra/envs output -json` prints on %s's state (dagger call outputs --env %s ... export --path outputs.json)", env, env, env)
}

// terraformOutputs renders outputs documents (overlay -> `tofu output -json`) into the
// overlays' terraform-outputs.yaml files, named OVERLAY.yaml in the directory it returns,
// with kustomize/tfoutputs (cmd/terraform-outputs), the renderer the manifests' tests use:
// one build, one container. A document it refuses is an error carrying every reason.
func (m *TransactionValidator) terraformOutputs(ctx context.Context, docs map[string]*dagger.File, account string) (*dagger.Directory, error) {
	c := m.goEnv().WithWorkdir("/src/kustomize").WithEnvVariable("TXV_ACCOUNT", account)
	script := "go build -o /run/terraform-outputs ./cmd/terraform-outputs\nmkdir -p /run/out\n"
	overlays := make([]string, 0, len(docs))
	for overlay := range docs {
		overlays = append(overlays, overlay)
	}
	sort.Strings(overlays)
	for _, overlay := range overlays {
		c = c.WithMountedFile("/run/in/"+overlay+".json", docs[overlay])
		script += fmt.Sprintf("echo '%[1]s:' >&2\n/run/terraform-outputs -account=\"$TXV_ACCOUNT\" < /run/in/%[1]s.json > /run/out/%[1]s.yaml\n", overlay)
	}
	c = c.WithExec([]string{"sh", "-ec", script})
	if _, err := c.Sync(ctx); err != nil {
		var exit *dagger.ExecError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("the Terraform outputs are not deployable, nothing was applied:\n%s", tail(exit.Stderr, 40))
		}
		return nil, fmt.Errorf("rendering the Terraform outputs: %w", err)
	}
	return c.Directory("/run/out"), nil
}

var (
	// placeholderValue is what no rendered manifest may hold: the placeholder account, or
	// a base/ field no Terraform output replaced.
	placeholderValue = regexp.MustCompile(`000000000000|TF_OUTPUT_MISSING[A-Za-z0-9_]*`)
	// unsetImage is an image the release did not set (the overlays name your-registry/).
	unsetImage = regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*["']?(your-registry/[^"'\s@:]+)`)
)

// checkRendered refuses manifests that still hold a placeholder: the last look before
// anything is applied. On "local" (kwok's fake nodes run no container) the images deploy
// was not given may stay unset; a real environment must get every image it runs.
func checkRendered(env, manifests string) error {
	var problems []string
	seen := map[string]bool{}
	for _, hit := range placeholderValue.FindAllString(manifests, -1) {
		if !seen[hit] {
			seen[hit] = true
			problems = append(problems, "placeholder "+hit)
		}
	}
	if env != "local" {
		for _, m := range unsetImage.FindAllStringSubmatch(manifests, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				problems = append(problems, fmt.Sprintf("image %s not set (pass its digest reference: --image, --console-image, --etl-image)", m[1]))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("refusing to deploy to %s, nothing was applied: the rendered manifests hold %s", env, strings.Join(problems, "; "))
}
