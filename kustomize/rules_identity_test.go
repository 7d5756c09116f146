package kustomize

// Identity and secrets: the IRSA ServiceAccount (base/serviceaccount.yaml) and the
// ExternalSecret (base/externalsecret.yaml, base/secretstore.yaml).

import (
	"fmt"
	"net/url"
	"regexp"

	corev1 "k8s.io/api/core/v1"
)

var iamRoleARN = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)

func checkServiceAccount(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	name := d.Spec.Template.Spec.ServiceAccountName
	for _, sa := range m.ServiceAccounts {
		if sa.Name != name {
			continue
		}
		if arn := sa.Annotations["eks.amazonaws.com/role-arn"]; !iamRoleARN.MatchString(arn) {
			errorf(&out, "ServiceAccount %s IRSA annotation %q is not an IAM role ARN", name, arn)
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			errorf(&out, "ServiceAccount %s must set automountServiceAccountToken: false", name)
		}
		return out
	}
	return []string{fmt.Sprintf("Deployment's ServiceAccount %q is not in the output", name)}
}

func checkExternalSecret(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	if len(m.Custom["ExternalSecret"]) != 1 || len(m.Custom["SecretStore"]) != 1 {
		return []string{"want exactly 1 ExternalSecret and 1 SecretStore"}
	}
	es, store := m.Custom["ExternalSecret"][0], m.Custom["SecretStore"][0]
	if str(path(es, "spec", "secretStoreRef", "kind")) != "SecretStore" ||
		str(path(es, "spec", "secretStoreRef", "name")) != str(path(store, "metadata", "name")) {
		errorf(&out, "ExternalSecret must use the namespaced SecretStore %q", str(path(store, "metadata", "name")))
	}
	if str(path(store, "spec", "provider", "aws", "service")) != "SecretsManager" {
		errorf(&out, "SecretStore must read AWS Secrets Manager")
	}
	if sa := str(path(store, "spec", "provider", "aws", "auth", "jwt", "serviceAccountRef", "name")); sa != d.Spec.Template.Spec.ServiceAccountName {
		errorf(&out, "SecretStore must authenticate as the IRSA ServiceAccount, uses %q", sa)
	}
	target := str(path(es, "spec", "target", "name"))
	keys := map[string]string{}
	data, _ := path(es, "spec", "data").([]any)
	for _, item := range data {
		im, _ := item.(map[string]any)
		keys[str(im["secretKey"])] = str(path(im, "remoteRef", "key"))
	}
	c := container(d)
	if c == nil {
		return append(out, "no container "+appName)
	}
	fromSecret := []string{"DATABASE_URL", "PAN_HMAC_KEY", "REDIS_USERNAME", "REDIS_PASSWORD"}
	if iamLogin(c) {
		// components/database-iam: no DATABASE_URL secret exists in infra's iam mode.
		fromSecret = fromSecret[1:]
		if keys["DATABASE_URL"] != "" {
			errorf(&out, "ExternalSecret provides DATABASE_URL, which infra's iam mode does not create")
		}
		out = append(out, checkIAMDatabaseURL(appName, c, "transaction_validator")...)
	}
	for _, want := range fromSecret {
		if keys[want] == "" {
			errorf(&out, "ExternalSecret does not provide %s", want)
		}
		found := false
		for _, ev := range c.Env {
			if ev.Name == want && ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil &&
				ev.ValueFrom.SecretKeyRef.Name == target && ev.ValueFrom.SecretKeyRef.Key == want {
				found = true
			}
		}
		if !found {
			errorf(&out, "container env %s must come from Secret %s (the ExternalSecret's target)", want, target)
		}
	}
	return out
}

// iamLogin reports whether c logs in to the database with IAM tokens
// (components/database-iam sets DATABASE_AUTH=iam).
func iamLogin(c *corev1.Container) bool {
	for _, ev := range c.Env {
		if ev.Name == "DATABASE_AUTH" {
			return ev.ValueFrom == nil && ev.Value == "iam"
		}
	}
	return false
}

// checkIAMDatabaseURL holds an IAM-login container to what svc/internal/dbauth needs: a
// plain DATABASE_URL of user with no password, sslmode=verify-full, and AWS_REGION.
func checkIAMDatabaseURL(name string, c *corev1.Container, user string) (out []string) {
	env := map[string]corev1.EnvVar{}
	for _, ev := range c.Env {
		env[ev.Name] = ev
	}
	if r := env["AWS_REGION"]; r.ValueFrom != nil || !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`).MatchString(r.Value) {
		errorf(&out, "%s: iam login needs AWS_REGION as a plain region, has %+v", name, r)
	}
	ev := env["DATABASE_URL"]
	if ev.ValueFrom != nil {
		return append(out, fmt.Sprintf("%s: iam login's DATABASE_URL must be a plain value, not from %+v", name, ev.ValueFrom))
	}
	u, err := url.Parse(ev.Value)
	if err != nil || u.User == nil {
		return append(out, fmt.Sprintf("%s: iam login's DATABASE_URL %q is not a URL with a user", name, ev.Value))
	}
	if _, has := u.User.Password(); has || u.User.Username() != user || u.Port() != "5432" || u.Query().Get("sslmode") != "verify-full" {
		errorf(&out, "%s: iam login's DATABASE_URL must be %s's, on 5432, with sslmode=verify-full and no password", name, user)
	}
	return out
}
