// Package tfoutputs turns `tofu output -json` for one environment into the
// terraform-outputs.yaml a deploy writes into the environment's overlay before building it
// (see components/terraform-outputs/README.md for the mapping). It is the one place the
// manifests' AWS values come from: the committed overlays hold none.
//
// Every value is checked before anything is written. A missing or null output, a
// placeholder (account 000000000000, an all-zero id), an ARN of another partition, region
// or account than the environment's, or a subnet list that is not one CIDR per zone inside
// the VPC is an error naming the output: a deploy must stop before it applies anything,
// not ship a manifest that points at nothing, or at someone else's account. The one
// exception is the database login: infra's database_client_auth leaves either the
// DATABASE_URL secrets' names or the password-less IAM URLs null, and only the other pair
// is checked and written (see databaseLogins).
package tfoutputs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Needed lists the root outputs (infra/envs/outputs.tf) Render reads. A test holds it to
// the outputs the root declares, so a renamed output fails there, not at deploy time.
var Needed = []string{
	"alb_certificate_arn",
	"alb_security_group_id",
	"application_log_group_name",
	"cluster_name",
	"database_iam_url",
	"database_subnet_cidrs",
	"database_url_secret_name",
	"etl_bucket_name",
	"etl_bucket_prefix",
	"fluent_bit_role_arn",
	"fx_rates_etl_role_arn",
	"operator_console_database_iam_url",
	"operator_console_database_url_secret_name",
	"operator_console_role_arn",
	"otel_collector_role_arn",
	"public_subnet_cidrs",
	"redis_configuration_endpoint",
	"region",
	"secret_names",
	"transaction_validator_role_arn",
	"vpc_cidr",
	"waf_web_acl_arn",
}

// Options are what the caller knows about the environment beyond its outputs.
type Options struct {
	// Account, when set, is the AWS account id every ARN must be in. Without it the
	// ARNs must still agree on one account.
	Account string
}

// zeroAccount is the account id placeholders use; no AWS account has it.
const zeroAccount = "000000000000"

var (
	accountID = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	sgID      = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// dnsName is a host name of lower-case labels (what AWS returns for endpoints).
	dnsName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// bucketName is S3's rule for general purpose buckets, less the rarer exceptions.
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	// clusterName is EKS's rule for cluster names (also the ALB's name here).
	clusterName = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	// secretName is Secrets Manager's character set for names.
	secretName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	// zeroID is an id made of zeros only: 00000000-0000-0000-0000-000000000000, sg-000...
	zeroID = regexp.MustCompile(`(^|[^0-9a-z])0{8}(-0{4}){3}-0{12}($|[^0-9a-z])|^sg-0+$`)
)

// partitionOf returns the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// output is one entry of `tofu output -json`.
type output struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type"`
	Value     json.RawMessage `json:"value"`
}

// checker collects every problem, so one run names all of them.
type checker struct {
	outputs map[string]output
	errs    []string
	// accounts maps each account id seen in an ARN to the outputs that carry it.
	accounts map[string][]string
}

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// decode unmarshals output name's value into v; false (and an error recorded) when the
// output is missing, null or of another type.
func (c *checker) decode(name string, v any, what string) bool {
	o, ok := c.outputs[name]
	switch {
	case !ok:
		c.errorf("output %s is missing (does infra/envs/outputs.tf still declare it?)", name)
		return false
	case len(o.Value) == 0 || string(o.Value) == "null":
		c.errorf("output %s is null", name)
		return false
	case json.Unmarshal(o.Value, v) != nil:
		c.errorf("output %s is not %s: %s", name, what, o.Value)
		return false
	}
	return true
}

// placeholder reports whether s is one of the shapes placeholders take.
func placeholder(s string) bool {
	return strings.Contains(s, zeroAccount) || zeroID.MatchString(s) || strings.Contains(s, "TF_OUTPUT_MISSING")
}

// str returns output name, a non-empty string that is not a placeholder and matches re.
func (c *checker) str(name string, re *regexp.Regexp, what string) string {
	var s string
	if !c.decode(name, &s, "a string") {
		return ""
	}
	return c.value(name, s, re, what)
}

func (c *checker) value(name, s string, re *regexp.Regexp, what string) string {
	switch {
	case s == "":
		c.errorf("output %s is empty", name)
	case placeholder(s):
		c.errorf("output %s = %q is a placeholder, not a value Terraform created", name, s)
	case re != nil && !re.MatchString(s):
		c.errorf("output %s = %q is not %s", name, s, what)
	default:
		return s
	}
	return ""
}

// arn returns output name, an ARN of service in the environment's partition and region
// ("" for global services like IAM), whose resource starts with resourcePrefix.
func (c *checker) arn(name, service, region, resourcePrefix string) string {
	s := c.str(name, nil, "")
	if s == "" {
		return ""
	}
	a, err := arn.Parse(s)
	if err != nil {
		c.errorf("output %s = %q is not an ARN: %v", name, s, err)
		return ""
	}
	ok := true
	if a.Service != service || !strings.HasPrefix(a.Resource, resourcePrefix) || len(a.Resource) == len(resourcePrefix) {
		c.errorf("output %s = %q is not a %s ARN of a %s...", name, s, service, resourcePrefix)
		ok = false
	}
	if region != "" {
		if want := partitionOf(region); a.Partition != want {
			c.errorf("output %s = %q is in partition %s, the environment's region %s is in %s", name, s, a.Partition, region, want)
			ok = false
		}
		wantRegion := region
		if service == "iam" {
			wantRegion = ""
		}
		if a.Region != wantRegion {
			c.errorf("output %s = %q is in region %q, the environment's is %q", name, s, a.Region, wantRegion)
			ok = false
		}
	}
	if !accountID.MatchString(a.AccountID) {
		c.errorf("output %s = %q has no 12-digit account id", name, s)
		ok = false
	} else {
		c.accounts[a.AccountID] = append(c.accounts[a.AccountID], name)
	}
	if !ok {
		return ""
	}
	return s
}

// account checks that every ARN is in one account (opts.Account when given) and returns it.
func (c *checker) account(want string) string {
	if want != "" && !accountID.MatchString(want) {
		c.errorf("expected account %q is not a 12-digit account id", want)
		return ""
	}
	ids := make([]string, 0, len(c.accounts))
	for id := range c.accounts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	switch {
	case want != "":
		for _, id := range ids {
			if id != want {
				c.errorf("outputs %s are in account %s, the environment's account is %s",
					strings.Join(c.accounts[id], ", "), id, want)
			}
		}
		return want
	case len(ids) > 1:
		var parts []string
		for _, id := range ids {
			parts = append(parts, id+" ("+strings.Join(c.accounts[id], ", ")+")")
		}
		c.errorf("the outputs' ARNs are in more than one account: %s", strings.Join(parts, "; "))
	case len(ids) == 1:
		return ids[0]
	}
	return ""
}

// Render reads `tofu output -json` and returns the terraform-outputs.yaml an overlay lists
// among its resources, or an error that names every output that is missing or wrong.
func Render(doc []byte, opts Options) ([]byte, error) {
	c := &checker{accounts: map[string][]string{}}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.outputs); err != nil {
		return nil, fmt.Errorf("reading `tofu output -json`: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("reading `tofu output -json`: more than one JSON document")
	}
	if c.outputs == nil {
		return nil, fmt.Errorf("reading `tofu output -json`: not an object of outputs")
	}

	region := c.str("region", regionRE, "an AWS region")
	roleARN := func(name string) string { return c.arn(name, "iam", region, "role/") }
	var secrets map[string]string
	c.decode("secret_names", &secrets, "a map of strings")
	secret := func(key string) string {
		if secrets == nil {
			return ""
		}
		s, ok := secrets[key]
		if !ok {
			c.errorf("output secret_names has no key %q", key)
			return ""
		}
		return c.value("secret_names."+key, s, secretName, "a Secrets Manager name")
	}
	cluster := c.str("cluster_name", clusterName, "an EKS cluster name")
	redis := c.str("redis_configuration_endpoint", dnsName, "a host name")
	prefix := c.str("etl_bucket_prefix", regexp.MustCompile(`^[A-Za-z0-9!_.*'()/-]+/$`), "a key prefix ending in /")
	logGroup := c.str("application_log_group_name", regexp.MustCompile(`^/[A-Za-z0-9_./#-]+$`), "a CloudWatch log group name")

	data := map[string]string{
		"region":                         region,
		"transaction_validator_role_arn": roleARN("transaction_validator_role_arn"),
		"secret_names_pan_hmac_key":      secret("pan_hmac_key"),
		"secret_names_redis":             secret("redis"),
		"alb_certificate_arn":            c.arn("alb_certificate_arn", "acm", region, "certificate/"),
		"waf_web_acl_arn":                c.arn("waf_web_acl_arn", "wafv2", region, "regional/webacl/"),
		"alb_security_group_id":          c.str("alb_security_group_id", sgID, "a security group id"),
		"redis_endpoint":                 "rediss://" + redis + ":6379",
		// components/logging and components/tracing.
		"fluent_bit_role_arn":        roleARN("fluent_bit_role_arn"),
		"application_log_group_name": logGroup,
		"otel_collector_role_arn":    roleARN("otel_collector_role_arn"),
		// components/operator-console and components/fx-rates-etl.
		"operator_console_role_arn":     roleARN("operator_console_role_arn"),
		"fx_rates_etl_role_arn":         roleARN("fx_rates_etl_role_arn"),
		"etl_bucket_name":               c.str("etl_bucket_name", bucketName, "an S3 bucket name"),
		"etl_bucket_prefix":             prefix,
		"secret_names_fx_rates_api_key": secret("fx_rates_api_key"),
		// The IdP client the ALB authenticates operators with ({clientID, clientSecret}).
		"secret_names_operator_console_oidc": secret("operator_console_oidc"),
		// The IngressGroup's ALB is named after the cluster (load-balancer-name).
		"alb_name": cluster,
	}
	c.databaseLogins(data)
	account := c.account(opts.Account)
	// The console accepts identities signed by that ALB only: its ARN up to the id AWS
	// assigns, in the environment's account and region.
	if account != "" && region != "" && cluster != "" {
		data["console_alb_arn"] = fmt.Sprintf("arn:%s:elasticloadbalancing:%s:%s:loadbalancer/app/%s", partitionOf(region), region, account, cluster)
	}
	c.subnets(data)
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("refusing `tofu output -json`:\n  %s", strings.Join(c.errs, "\n  "))
	}
	return configMap(data), nil
}

// databaseLogins writes the keys of the database login mode infra runs
// (database_client_auth), which the iam URL outputs tell: null in "password" mode, where
// the DATABASE_URL secrets' names are needed (components/database-password), and the
// password-less URLs in "iam" mode, where no such secret exists
// (components/database-iam). Only one mode's keys are written, so an overlay with the
// other mode's component fails to build (its replacement source is missing) rather than
// deploy pods that cannot log in. Outputs of both modes at once are refused: infra's
// outputs never look like that, so they are not what `tofu output` printed.
func (c *checker) databaseLogins(data map[string]string) {
	iamURLs := map[string]string{
		"database_iam_url":                  "transaction_validator",
		"operator_console_database_iam_url": "operator_console",
	}
	secretNames := []string{"database_url_secret_name", "operator_console_database_url_secret_name"}
	validatorNull, ok := c.null("database_iam_url")
	if !ok {
		return
	}
	if validatorNull {
		if consoleNull, ok := c.null("operator_console_database_iam_url"); ok && !consoleNull {
			c.errorf("output operator_console_database_iam_url is set but database_iam_url is null: the outputs mix password and iam mode")
		}
		for _, name := range secretNames {
			data[name] = c.str(name, secretName, "a Secrets Manager name")
		}
		return
	}
	for _, name := range secretNames {
		if isNull, ok := c.null(name); ok && !isNull {
			c.errorf("output %s is set but database_iam_url is too: the outputs mix password and iam mode", name)
		}
	}
	for name, user := range iamURLs {
		data[name] = c.iamURL(name, user)
	}
}

// null reports whether output name is null; ok is false (and an error recorded) when the
// output is missing.
func (c *checker) null(name string) (isNull, ok bool) {
	o, ok := c.outputs[name]
	if !ok {
		c.errorf("output %s is missing (does infra/envs/outputs.tf still declare it?)", name)
		return false, false
	}
	return len(o.Value) == 0 || string(o.Value) == "null", true
}

// iamURL returns output name, a DATABASE_URL the services accept with DATABASE_AUTH=iam
// (svc/internal/dbauth): user's login, no password, one host on 5432, a database and
// sslmode=verify-full.
func (c *checker) iamURL(name, user string) string {
	s := c.str(name, nil, "")
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		c.errorf("output %s = %q is not a URL: %v", name, s, err)
		return ""
	}
	_, hasPassword := u.User.Password()
	q := u.Query()
	switch {
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		c.errorf("output %s = %q is not a postgres:// URL", name, s)
	case u.User == nil || u.User.Username() != user:
		c.errorf("output %s = %q does not log in as %s", name, s, user)
	case hasPassword:
		// Never echo a password into the deploy's log.
		c.errorf("output %s has a password; an IAM login has none", name)
	case !dnsName.MatchString(u.Hostname()) || u.Port() != "5432":
		c.errorf("output %s = %q is not one RDS Proxy host on port 5432", name, s)
	case len(u.Path) < 2 || strings.Contains(u.Path[1:], "/"):
		c.errorf("output %s = %q names no database", name, s)
	case len(q["sslmode"]) != 1 || q.Get("sslmode") != "verify-full":
		c.errorf("output %s = %q must have sslmode=verify-full (the token is a credential)", name, s)
	default:
		return s
	}
	return ""
}

// subnets checks the per-zone subnet lists: three CIDRs each (the NetworkPolicies name
// one per zone), all inside the VPC.
func (c *checker) subnets(data map[string]string) {
	var vpcText string
	var vpc netip.Prefix
	if c.decode("vpc_cidr", &vpcText, "a string") {
		p, err := netip.ParsePrefix(vpcText)
		if err != nil {
			c.errorf("output vpc_cidr = %q is not a CIDR", vpcText)
		}
		vpc = p
	}
	for _, name := range []string{"public_subnet_cidrs", "database_subnet_cidrs"} {
		var cidrs []string
		if !c.decode(name, &cidrs, "a list of strings") {
			continue
		}
		if len(cidrs) != 3 {
			c.errorf("output %s must list 3 CIDRs (one per zone), has %d", name, len(cidrs))
			continue
		}
		for i, s := range cidrs {
			p, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				c.errorf("output %s[%d] = %q is not a CIDR", name, i, s)
			case p != p.Masked():
				c.errorf("output %s[%d] = %q has host bits set", name, i, s)
			case vpc.IsValid() && (!vpc.Contains(p.Addr()) || p.Bits() < vpc.Bits()):
				c.errorf("output %s[%d] = %s is outside the VPC %s", name, i, s, vpc)
			default:
				data[fmt.Sprintf("%s_%d", name, i)] = s
			}
		}
	}
}

// configMap writes data as the local-config ConfigMap the component's replacements read.
func configMap(data map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(`# Written by kustomize/tfoutputs from ` + "`tofu output -json`" + ` at deploy time; never committed.
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
	return b.Bytes()
}
