package kustomize

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/transaction-validator/transaction-validator/kustomize/tfoutputs"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// What `tofu -chdir=infra/envs output -json` prints on prod's state, trimmed to the outputs
// used here (names from infra/envs/outputs.tf), with made-up ids.
const tofuOutputJSON = `{
  "region": {"sensitive": false, "type": "string", "value": "eu-central-1"},
  "transaction_validator_role_arn": {"sensitive": false, "type": "string", "value": "arn:aws:iam::123456789012:role/tv-prod-transaction-validator"},
  "secret_names": {"sensitive": false, "type": ["map", "string"], "value": {"pan_hmac_key": "transaction-validator/prod/pan-hmac-key", "fx_rates_api_key": "transaction-validator/prod/fx-rates-api-key", "redis": "transaction-validator/prod/redis", "operator_console_oidc": "transaction-validator/prod/operator-console-oidc"}},
  "cluster_name": {"sensitive": false, "type": "string", "value": "tv-prod"},
  "alb_certificate_arn": {"sensitive": false, "type": "string", "value": "arn:aws:acm:eu-central-1:123456789012:certificate/1b2c3d4e-0000-1111-2222-333344445555"},
  "waf_web_acl_arn": {"sensitive": false, "type": "string", "value": "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/tv-prod/0a1b2c3d-0000-1111-2222-333344445555"},
  "alb_security_group_id": {"sensitive": false, "type": "string", "value": "sg-0123456789abcdef0"},
  "redis_configuration_endpoint": {"sensitive": false, "type": "string", "value": "clustercfg.tv-prod.abc123.euc1.cache.amazonaws.com"},
  "database_url_secret_name": {"sensitive": false, "type": "string", "value": "transaction-validator/prod/database-url"},
  "public_subnet_cidrs": {"sensitive": false, "type": ["list", "string"], "value": ["10.30.96.0/24", "10.30.97.0/24", "10.30.98.0/24"]},
  "database_subnet_cidrs": {"sensitive": false, "type": ["list", "string"], "value": ["10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"]},
  "vpc_id": {"sensitive": false, "type": "string", "value": "vpc-0123456789abcdef0"},
  "fluent_bit_role_arn": {"sensitive": false, "type": "string", "value": "arn:aws:iam::123456789012:role/tv-prod-fluent-bit"},
  "otel_collector_role_arn": {"sensitive": false, "type": "string", "value": "arn:aws:iam::123456789012:role/tv-prod-otel-collector"},
  "application_log_group_name": {"sensitive": false, "type": "string", "value": "/aws/containerinsights/tv-prod/application"},
  "operator_console_role_arn": {"sensitive": false, "type": "string", "value": "arn:aws:iam::123456789012:role/tv-prod-operator-console"},
  "operator_console_database_url_secret_name": {"sensitive": false, "type": "string", "value": "transaction-validator/prod/database/operator_console/url"},
  "fx_rates_etl_role_arn": {"sensitive": false, "type": "string", "value": "arn:aws:iam::123456789012:role/tv-prod-fx-rates-etl"},
  "etl_bucket_name": {"sensitive": false, "type": "string", "value": "tv-prod-etl-data-123456789012"},
  "etl_bucket_prefix": {"sensitive": false, "type": "string", "value": "fx-rates/"}
}`

func generated(t *testing.T) string {
	t.Helper()
	out, err := tfoutputs.Generate(strings.NewReader(tofuOutputJSON), "api.txv.example.com", "console.txv.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func configMapKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(doc, &cm); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The generator, every committed overlay file, the component's replacements and the
// README table must agree on the key set, or one of them is stale.
func TestTerraformOutputKeysAgree(t *testing.T) {
	want := configMapKeys(t, []byte(generated(t)))

	raw, err := os.ReadFile("components/terraform-outputs/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var comp struct {
		Replacements []struct {
			Source struct {
				FieldPath string `json:"fieldPath"`
			} `json:"source"`
		} `json:"replacements"`
	}
	if err := yaml.Unmarshal(raw, &comp); err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, r := range comp.Replacements {
		used = append(used, strings.TrimPrefix(r.Source.FieldPath, "data."))
	}
	sort.Strings(used)
	if !slices.Equal(used, want) {
		t.Errorf("component replaces %v, generator writes %v", used, want)
	}

	readme, err := os.ReadFile("components/terraform-outputs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		// The per-zone CIDR keys share one row: `name_0` .. `_2`.
		row := "| `" + k + "` |"
		if base, ok := strings.CutSuffix(k, "_0"); ok {
			row = "| `" + base + "_0` .. `_2` |"
		} else if strings.HasSuffix(k, "_1") || strings.HasSuffix(k, "_2") {
			continue
		}
		if !strings.Contains(string(readme), row) {
			t.Errorf("components/terraform-outputs/README.md has no row for %s", k)
		}
	}

	for _, e := range envs {
		raw, err := os.ReadFile(filepath.Join("overlays", e.name, "terraform-outputs.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if got := configMapKeys(t, raw); !slices.Equal(got, want) {
			t.Errorf("overlays/%s/terraform-outputs.yaml has keys %v, want %v", e.name, got, want)
		}
	}
}

// A generated file really fills the manifests: build base + component + generated values
// and hold the result to the rules that concern Terraform's values.
func TestGeneratedOutputsFillTheManifests(t *testing.T) {
	dir := t.TempDir()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(here, p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kz := "resources:\n  - " + rel("base") + "\n  - terraform-outputs.yaml\ncomponents:\n  - " +
		rel("components/terraform-outputs") + "\n  - " + rel("components/servicemonitor") +
		"\nimages:\n  - name: your-registry/transaction-validator\n    digest: sha256:" + strings.Repeat("ab", 32) + "\n"
	for name, content := range map[string]string{"kustomization.yaml": kz, "terraform-outputs.yaml": generated(t)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := render(t, dir)
	prod := envs[len(envs)-1]
	for _, r := range rules {
		switch r.name {
		case "no-placeholders", "serviceaccount-irsa", "externalsecret", "ingress-alb", "networkpolicies":
			for _, v := range r.check(prod, m) {
				t.Errorf("%s: %s", r.name, v)
			}
		}
	}
	cm, err := appConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["REDIS_ENDPOINT"]; got != "rediss://clustercfg.tv-prod.abc123.euc1.cache.amazonaws.com:6379" {
		t.Errorf("REDIS_ENDPOINT = %q", got)
	}
	cidrs := map[string][]string{}
	for _, np := range m.NetworkPolicies {
		for _, r := range np.Spec.Ingress {
			for _, p := range r.From {
				if p.IPBlock != nil {
					cidrs[np.Name] = append(cidrs[np.Name], p.IPBlock.CIDR)
				}
			}
		}
		for _, r := range np.Spec.Egress {
			for _, p := range r.To {
				if p.IPBlock != nil {
					cidrs[np.Name] = append(cidrs[np.Name], p.IPBlock.CIDR)
				}
			}
		}
	}
	db := []string{"10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"}
	for name, want := range map[string][]string{
		"ingress-from-alb":   {"10.30.96.0/24", "10.30.97.0/24", "10.30.98.0/24"},
		"egress-to-database": db, "egress-to-redis": db,
	} {
		if !slices.Equal(cidrs[name], want) {
			t.Errorf("%s CIDRs = %v, want %v", name, cidrs[name], want)
		}
	}
}

func TestGeneratorRefusesMissingOutputs(t *testing.T) {
	broken := strings.Replace(tofuOutputJSON, `"waf_web_acl_arn"`, `"waf_acl_renamed"`, 1)
	broken = strings.Replace(broken, `"value": "sg-0123456789abcdef0"`, `"value": null`, 1)
	broken = strings.Replace(broken, `, "10.30.98.0/24"]`, `]`, 1) // two public subnets
	_, err := tfoutputs.Generate(strings.NewReader(broken), "", "")
	if err == nil {
		t.Fatal("generator accepted missing outputs")
	}
	for _, want := range []string{"waf_web_acl_arn", "alb_security_group_id", "-api-hostname", "-console-hostname", "public_subnet_cidrs must list 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}
