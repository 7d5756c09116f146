// Package tfoutputs turns `tofu output -json` for one environment into the overlay's
// terraform-outputs.yaml (see components/terraform-outputs/README.md for the mapping).
package tfoutputs

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
)

// Generate reads `tofu output -json` from r and returns the terraform-outputs.yaml an
// overlay lists among its resources.
func Generate(r io.Reader, apiHost, vpcCIDR, dbSecret string) (string, error) {
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
	flagVal := func(name, v string) string {
		if v == "" {
			errs = append(errs, "flag -"+name+" is required (infra/ does not output it)")
		}
		return v
	}
	data := map[string]string{
		"region":                         str("region"),
		"transaction_validator_role_arn": str("transaction_validator_role_arn"),
		"secret_names_pan_hmac_key":      mapKey("secret_names", "pan_hmac_key"),
		"secret_names_redis":             mapKey("secret_names", "redis"),
		"database_url_secret_name":       flagVal("database-url-secret-name", dbSecret),
		"alb_certificate_arn":            str("alb_certificate_arn"),
		"waf_web_acl_arn":                str("waf_web_acl_arn"),
		"alb_security_group_id":          str("alb_security_group_id"),
		"api_hostname":                   flagVal("api-hostname", apiHost),
		"redis_endpoint":                 "rediss://" + str("redis_configuration_endpoint") + ":6379",
	}
	// infra/modules/platform lays the subnets out as cidrsubnet(vpc_cidr, 8, 96+i) (public)
	// and cidrsubnet(vpc_cidr, 8, 112+i) (database), i = 0..2; the /22 around each trio is
	// what the NetworkPolicies allow.
	if flagVal("vpc-cidr", vpcCIDR) != "" {
		var err error
		if data["public_subnets_supernet"], err = Cidrsubnet(vpcCIDR, 6, 24); err != nil {
			errs = append(errs, err.Error())
		}
		if data["database_subnets_supernet"], err = Cidrsubnet(vpcCIDR, 6, 28); err != nil {
			errs = append(errs, err.Error())
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

var ipv4CIDR = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+/\d+$`)

// Cidrsubnet is Terraform's cidrsubnet(prefix, newbits, netnum) for IPv4.
func Cidrsubnet(prefix string, newbits, netnum int) (string, error) {
	_, n, err := net.ParseCIDR(prefix)
	if err != nil || !ipv4CIDR.MatchString(prefix) {
		return "", fmt.Errorf("vpc cidr %q is not an IPv4 CIDR", prefix)
	}
	ones, _ := n.Mask.Size()
	bits := ones + newbits
	if bits > 32 || netnum >= 1<<newbits {
		return "", fmt.Errorf("cidrsubnet(%s, %d, %d) does not fit", prefix, newbits, netnum)
	}
	ip := n.IP.To4()
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v |= uint32(netnum) << (32 - bits)
	return fmt.Sprintf("%d.%d.%d.%d/%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff, bits), nil
}
