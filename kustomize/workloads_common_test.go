package kustomize

// Rules every opt-in workload is held to: present, pod security, resources, images,
// service accounts.

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

func checkWorkloadsPresent(_ env, m *manifests) (out []string) {
	w := m.Workloads
	if consoleDeployment(w) == nil {
		errorf(&out, "no Deployment %s", consoleName)
	}
	if etlCronJob(w) == nil {
		errorf(&out, "no CronJob %s", etlName)
	}
	if len(w.Deployments) != 1 || len(w.CronJobs) != 1 {
		errorf(&out, "want exactly the console Deployment and the ETL CronJob, got %d Deployments, %d CronJobs", len(w.Deployments), len(w.CronJobs))
	}
	return out
}

func checkWorkloadPodSecurity(e env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		for _, v := range checkPodSecurity(e, asDeployment(t)) {
			errorf(&out, "%s: %s", name, v)
		}
	}
	return out
}

func checkWorkloadResources(e env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		for _, v := range checkResources(e, asDeployment(t)) {
			errorf(&out, "%s: %s", name, v)
		}
	}
	return out
}

var ecrDigest = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/([a-z0-9-]+)@sha256:[0-9a-f]{64}$`)

func checkWorkloadImages(_ env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		c := workloadContainer(name, t)
		if c == nil {
			errorf(&out, "%s: no container named %s", name, name)
			continue
		}
		// Its own ECR repository (infra's ecr module), by digest: what runs is what was scanned.
		if sm := ecrDigest.FindStringSubmatch(c.Image); sm == nil || sm[1] != name {
			errorf(&out, "%s: image %q must be <account>.dkr.ecr.<region>.amazonaws.com/%s@sha256:<digest>", name, c.Image, name)
		}
	}
	return out
}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/(.+)$`)

func checkWorkloadServiceAccounts(_ env, m *manifests) (out []string) {
	for name, t := range pods(m.Workloads) {
		if t.Spec.ServiceAccountName != name {
			errorf(&out, "%s: runs as ServiceAccount %q; each workload has its own (its own IRSA role)", name, t.Spec.ServiceAccountName)
		}
		var sa *corev1.ServiceAccount
		for i := range m.Workloads.ServiceAccounts {
			if m.Workloads.ServiceAccounts[i].Name == name {
				sa = &m.Workloads.ServiceAccounts[i]
			}
		}
		if sa == nil {
			errorf(&out, "%s: no ServiceAccount %s", name, name)
			continue
		}
		if r := roleARN.FindStringSubmatch(sa.Annotations["eks.amazonaws.com/role-arn"]); r == nil || !strings.HasSuffix(r[1], "-"+name) {
			errorf(&out, "ServiceAccount %s: eks.amazonaws.com/role-arn must be its own IRSA role (…-%s), is %q", name, name, sa.Annotations["eks.amazonaws.com/role-arn"])
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			errorf(&out, "ServiceAccount %s must set automountServiceAccountToken: false", name)
		}
	}
	return out
}
