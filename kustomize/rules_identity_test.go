package kustomize

// Identity and secrets: the IRSA ServiceAccount (base/serviceaccount.yaml) and the
// ExternalSecret (base/externalsecret.yaml, base/secretstore.yaml).

import (
	"fmt"
	"regexp"
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
	for _, want := range []string{"DATABASE_URL", "PAN_HMAC_KEY", "REDIS_USERNAME", "REDIS_PASSWORD"} {
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
