// Package tfoutputs turns `tofu output -json` for one environment into the overlay's
// terraform-outputs.yaml (see components/terraform-outputs/README.md for the mapping).
package tfoutputs

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
)

// Generate reads `tofu output -json` from r and returns the terraform-outputs.yaml an
// overlay lists among its resources. apiHost and consoleHost are the values infra/ does
// not output.
func Generate(r io.Reader, apiHost, consoleHost string) (string, error) {
	var outputs map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(r).Decode(&outputs); err != nil {
		return "", fmt.Errorf("reading `tofu output -json`: %w", err)
	}
	var errs []string
	str := func(name string) string {
		o, ok := outputs[name]
		var s string
		if !ok || json.Unmarshal(o.Value, &s) != nil || s == "" {
			errs = append(errs, fmt.Sprintf("output %s is missing, null or not a string", name))
		}
		return s
	}
	mapKey := func(name, key string) string {
		var m map[string]string
		if o, ok := outputs[name]; ok {
			_ = json.Unmarshal(o.Value, &m)
		}
		if m[key] == "" {
			errs = append(errs, fmt.Sprintf("output %s has no key %q", name, key))
		}
		return m[key]
	}
	data := map[string]string{
		"region":                         str("region"),
		"transaction_validator_role_arn": str("transaction_validator_role_arn"),
		"secret_names_pan_hmac_key":      mapKey("secret_names", "pan_hmac_key"),
		"secret_names_redis":             mapKey("secret_names", "redis"),
		// null when infra runs database_client_auth = "iam", which svc/ cannot use yet.
		"database_url_secret_name": str("database_url_secret_name"),
		"alb_certificate_arn":      str("alb_certificate_arn"),
		"waf_web_acl_arn":          str("waf_web_acl_arn"),
		"alb_security_group_id":    str("alb_security_group_id"),
		"redis_endpoint":           "rediss://" + str("redis_configuration_endpoint") + ":6379",
		// components/logging and components/tracing.
		"fluent_bit_role_arn":        str("fluent_bit_role_arn"),
		"application_log_group_name": str("application_log_group_name"),
		"otel_collector_role_arn":    str("otel_collector_role_arn"),
		// components/operator-console and components/fx-rates-etl. The console's
		// DATABASE_URL secret, like the validator's, exists only in "password" mode.
		"operator_console_role_arn":                 str("operator_console_role_arn"),
		"operator_console_database_url_secret_name": str("operator_console_database_url_secret_name"),
		"fx_rates_etl_role_arn":                     str("fx_rates_etl_role_arn"),
		"etl_bucket_name":                           str("etl_bucket_name"),
		"etl_bucket_prefix":                         str("etl_bucket_prefix"),
		"secret_names_fx_rates_api_key":             mapKey("secret_names", "fx_rates_api_key"),
		// The IdP client the ALB authenticates operators with ({clientID, clientSecret}).
		"secret_names_operator_console_oidc": mapKey("secret_names", "operator_console_oidc"),
		// The IngressGroup's ALB is named after the cluster (load-balancer-name).
		"alb_name": str("cluster_name"),
	}
	// The console accepts identities signed by that ALB only: its ARN up to the id AWS
	// assigns, in the environment's account (read off a role ARN) and region.
	if arn := strings.Split(data["transaction_validator_role_arn"], ":"); len(arn) == 6 && arn[0] == "arn" && len(arn[4]) == 12 {
		data["console_alb_arn"] = fmt.Sprintf("arn:%s:elasticloadbalancing:%s:%s:loadbalancer/app/%s", arn[1], data["region"], arn[4], data["alb_name"])
	} else if data["transaction_validator_role_arn"] != "" {
		errs = append(errs, "output transaction_validator_role_arn is not an IAM role ARN (the account id comes from it)")
	}
	if apiHost == "" {
		errs = append(errs, "flag -api-hostname is required (infra/ does not output it)")
	}
	data["api_hostname"] = apiHost
	switch {
	case consoleHost == "":
		errs = append(errs, "flag -console-hostname is required (infra/ does not output it)")
	case consoleHost == apiHost:
		errs = append(errs, "-console-hostname must differ from -api-hostname: the API's host has no authentication")
	}
	data["console_hostname"] = consoleHost
	// One subnet per zone; the NetworkPolicies name each, so the count is fixed at three.
	for _, name := range []string{"public_subnet_cidrs", "database_subnet_cidrs"} {
		var cidrs []string
		if o, ok := outputs[name]; ok {
			_ = json.Unmarshal(o.Value, &cidrs)
		}
		if len(cidrs) != 3 {
			errs = append(errs, fmt.Sprintf("output %s must list 3 CIDRs (one per zone), has %d", name, len(cidrs)))
			continue
		}
		for i, c := range cidrs {
			if _, _, err := net.ParseCIDR(c); err != nil {
				errs = append(errs, fmt.Sprintf("output %s[%d] = %q is not a CIDR", name, i, c))
			}
			data[fmt.Sprintf("%s_%d", name, i)] = c
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	var b strings.Builder
	b.WriteString(`# Written by kustomize/cmd/terraform-outputs from ` + "`tofu output -json`" + `; do not edit.
apiVersion: v1
kind: ConfigMap
metadata:
  name: terraform-outputs
  annotations:
    config.kubernetes.io/local-config: "true"
data:
`)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// JSON strings are valid YAML scalars, and quoting keeps values like "on" or
		// "0123" from being read as something else.
		q, _ := json.Marshal(data[k])
		fmt.Fprintf(&b, "  %s: %s\n", k, q)
	}
	return b.String(), nil
}
