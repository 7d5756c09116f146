package main

import (
	"strings"
	"testing"
)

func TestDefaultOutputsOnlyForLocal(t *testing.T) {
	if got, err := defaultOutputs("local"); err != nil || got != localOutputs {
		t.Errorf("defaultOutputs(local) = %q, %v", got, err)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		_, err := defaultOutputs(env)
		if err == nil || !strings.Contains(err.Error(), "needs --outputs") {
			t.Errorf("deploy --env %s without outputs: %v", env, err)
		}
	}
}

// The last look before apply: a rendered overlay that still holds a placeholder is refused.
func TestCheckRenderedRefusesPlaceholders(t *testing.T) {
	const good = `apiVersion: v1
kind: ServiceAccount
metadata:
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::777788889999:role/tv-prod-transaction-validator
---
kind: Deployment
spec:
  template:
    spec:
      containers:
      - image: 777788889999.dkr.ecr.eu-central-1.amazonaws.com/transaction-validator@sha256:` + "9623269ae391a908f79af12daf2f0c47a1225178a59535e335cec3ec2bd08c69\n"
	if err := checkRendered("prod", good); err != nil {
		t.Fatalf("good manifests refused: %v", err)
	}
	for name, tc := range map[string]struct {
		env, manifests, want string
	}{
		"zero account": {"prod", strings.ReplaceAll(good, "777788889999", "000000000000"), "placeholder 000000000000"},
		"unreplaced field": {"staging", good + "    alb.ingress.kubernetes.io/wafv2-acl-arn: TF_OUTPUT_MISSING_waf_web_acl_arn\n",
			"placeholder TF_OUTPUT_MISSING_waf_web_acl_arn"},
		"image not set": {"prod", good + "      - image: your-registry/operator-console@sha256:b70e2db8dadbac84971a5311b72817af900f80997c24efd3d4efab2438ca350b\n",
			"image your-registry/operator-console not set"},
		"quoted image not set": {"dev", good + "        image: \"your-registry/fx-rates-etl@sha256:8561a09b9d964fc7f56e0d57e730407407d49bfd1c9a8dce4ab236f83be04cb2\"\n",
			"image your-registry/fx-rates-etl not set"},
		"zero account on local": {"local", strings.ReplaceAll(good, "777788889999", "000000000000"), "placeholder 000000000000"},
	} {
		err := checkRendered(tc.env, tc.manifests)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was applied") {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	// kwok's fake nodes run no container: local may leave the images deploy was not given.
	if err := checkRendered("local", good+"      - image: your-registry/operator-console@sha256:b70e2db8dadbac84971a5311b72817af900f80997c24efd3d4efab2438ca350b\n"); err != nil {
		t.Errorf("local refused an unset console image: %v", err)
	}
}

func TestRenderScriptUsesTheRenderedOutputs(t *testing.T) {
	s := (&TransactionValidator{}).renderScript("prod", map[string]string{"transaction-validator": "r/x@sha256:" + strings.Repeat("a", 64)}, "/out.yaml", false)
	cp := "cp /run/terraform-outputs/prod.yaml /tmp/render/overlays/prod/terraform-outputs.yaml\n"
	build := "kustomize build /tmp/render/overlays/prod"
	if i, j := strings.Index(s, cp), strings.Index(s, build); i < 0 || j < i {
		t.Errorf("render script does not put the outputs in place before building:\n%s", s)
	}
}
