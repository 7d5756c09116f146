package tfoutputs

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// prodOutputs is testdata/tofu-output/prod.json: a whole `tofu output -json` of
// infra/envs (the kustomize tests hold it to the outputs the root declares).
func prodOutputs(t testing.TB) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile("../testdata/tofu-output/prod.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func encode(t testing.TB, doc map[string]map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderFillsEveryKey(t *testing.T) {
	out, err := Render(encode(t, prodOutputs(t)), Options{Account: "777788889999"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`transaction_validator_role_arn: "arn:aws:iam::777788889999:role/tv-prod-transaction-validator"`,
		`console_alb_arn: "arn:aws:elasticloadbalancing:eu-central-1:777788889999:loadbalancer/app/tv-prod"`,
		`redis_endpoint: "rediss://clustercfg.tv-prod.q1w2e3.euc1.cache.amazonaws.com:6379"`,
		`public_subnet_cidrs_2: "10.30.98.0/24"`,
		`secret_names_redis: "transaction-validator/prod/redis"`,
		`config.kubernetes.io/local-config: "true"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered file lacks %s:\n%s", want, out)
		}
	}
}

// Every placeholder shape, and every value that would point a deploy at the wrong
// place, is refused with an error that names the output.
func TestRenderRefusesPlaceholders(t *testing.T) {
	set := func(name string, v any) func(map[string]map[string]any) {
		return func(d map[string]map[string]any) { d[name]["value"] = v }
	}
	for _, tc := range []struct {
		name   string
		opts   Options
		mutate func(map[string]map[string]any)
		want   []string
	}{
		{"account 000000000000", Options{}, func(d map[string]map[string]any) {
			for _, o := range d {
				if s, ok := o["value"].(string); ok {
					o["value"] = strings.ReplaceAll(s, "777788889999", "000000000000")
				}
			}
		}, []string{"transaction_validator_role_arn", "waf_web_acl_arn", "alb_certificate_arn", "is a placeholder"}},
		{"zero certificate id", Options{}, set("alb_certificate_arn", "arn:aws:acm:eu-central-1:777788889999:certificate/00000000-0000-0000-0000-000000000000"),
			[]string{"alb_certificate_arn", "placeholder"}},
		{"zero security group", Options{}, set("alb_security_group_id", "sg-00000000000000000"),
			[]string{"alb_security_group_id", "placeholder"}},
		{"empty", Options{}, set("fluent_bit_role_arn", ""), []string{"output fluent_bit_role_arn is empty"}},
		{"null (iam mode, or a certificate not yet set)", Options{}, set("alb_certificate_arn", nil), []string{"output alb_certificate_arn is null"}},
		{"missing", Options{}, func(d map[string]map[string]any) { delete(d, "waf_web_acl_arn") },
			[]string{"output waf_web_acl_arn is missing"}},
		{"missing secret name", Options{}, func(d map[string]map[string]any) {
			delete(d["secret_names"]["value"].(map[string]any), "redis")
		}, []string{`secret_names has no key "redis"`}},
		{"wrong type", Options{}, set("region", 42), []string{"output region is not a string"}},
		{"another account", Options{}, set("waf_web_acl_arn", "arn:aws:wafv2:eu-central-1:111122223333:regional/webacl/tv-prod/3f1c2b7e-5a4d-4c21-9e0f-8b6a1d2c3e4f"),
			[]string{"more than one account", "111122223333 (waf_web_acl_arn)"}},
		{"not the expected account", Options{Account: "111122223333"}, func(map[string]map[string]any) {},
			[]string{"the environment's account is 111122223333", "transaction_validator_role_arn"}},
		{"another region", Options{}, set("alb_certificate_arn", "arn:aws:acm:us-east-1:777788889999:certificate/9d8e7f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"),
			[]string{"alb_certificate_arn", `region "us-east-1", the environment's is "eu-central-1"`}},
		{"another partition", Options{}, set("operator_console_role_arn", "arn:aws-cn:iam::777788889999:role/tv-prod-operator-console"),
			[]string{"operator_console_role_arn", "partition aws-cn"}},
		{"not a role", Options{}, set("otel_collector_role_arn", "arn:aws:iam::777788889999:user/tv-prod-otel-collector"),
			[]string{"otel_collector_role_arn", "not a iam ARN of a role/"}},
		{"not an ARN", Options{}, set("fx_rates_etl_role_arn", "tv-prod-fx-rates-etl"),
			[]string{"fx_rates_etl_role_arn", "not an ARN"}},
		{"two zones", Options{}, set("public_subnet_cidrs", []any{"10.30.96.0/24", "10.30.97.0/24"}),
			[]string{"public_subnet_cidrs must list 3"}},
		{"subnet outside the VPC", Options{}, set("database_subnet_cidrs", []any{"10.30.112.0/24", "10.99.113.0/24", "10.30.114.0/24"}),
			[]string{"database_subnet_cidrs[1] = 10.99.113.0/24 is outside the VPC 10.30.0.0/16"}},
		{"made-up endpoint", Options{}, set("redis_configuration_endpoint", "clustercfg.tv-prod.XXXXXX.euc1.cache.amazonaws.com"),
			[]string{"redis_configuration_endpoint", "not a host name"}},
		{"malformed expected account", Options{Account: "7777"}, func(map[string]map[string]any) {},
			[]string{`expected account "7777"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := prodOutputs(t)
			tc.mutate(doc)
			out, err := Render(encode(t, doc), tc.opts)
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
		})
	}
}

func TestRenderRefusesMalformedDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":            ``,
		"not an object":    `[]`,
		"null":             `null`,
		"two documents":    `{} {}`,
		"not tofu's shape": `{"region": {"val": "eu-central-1"}}`,
	} {
		if _, err := Render([]byte(doc), Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPartitionOf(t *testing.T) {
	for region, want := range map[string]string{
		"eu-central-1": "aws", "us-east-1": "aws", "cn-north-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b",
	} {
		if got := partitionOf(region); got != want {
			t.Errorf("partitionOf(%s) = %s, want %s", region, got, want)
		}
	}
}

// Whatever the document, Render either refuses it or writes a file with no placeholder.
func FuzzRender(f *testing.F) {
	f.Add(encode(f, prodOutputs(f)))
	f.Add([]byte(`{"region": {"sensitive": false, "type": "string", "value": "eu-central-1"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := Render(doc, Options{})
		if err != nil {
			return
		}
		if placeholder(string(out)) {
			t.Fatalf("accepted a placeholder:\n%s", out)
		}
	})
}
