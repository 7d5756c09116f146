package kustomize

// Pod security: the namespace's PSA level (base/namespace.yaml) and the pod's and
// container's security contexts (base/deployment.yaml).

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

func checkNamespace(_ env, m *manifests) (out []string) {
	if len(m.Namespaces) != 1 || m.Namespaces[0].Name != namespace {
		return []string{"want exactly the Namespace " + namespace}
	}
	l := m.Namespaces[0].Labels
	if l["pod-security.kubernetes.io/enforce"] != "restricted" {
		errorf(&out, "namespace must enforce Pod Security Admission level restricted, has %q", l["pod-security.kubernetes.io/enforce"])
	}
	return out
}

func checkPodSecurity(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	ps := d.Spec.Template.Spec
	if ps.HostNetwork || ps.HostPID || ps.HostIPC {
		errorf(&out, "pod must not use host namespaces")
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		errorf(&out, "pod must set automountServiceAccountToken: false (the service never calls the Kubernetes API)")
	}
	psc := ps.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, c := range append(ps.InitContainers, ps.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			errorf(&out, "container %s has no securityContext", c.Name)
			continue
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			errorf(&out, "container %s must run as non-root", c.Name)
		}
		user := psc.RunAsUser
		if sc.RunAsUser != nil {
			user = sc.RunAsUser
		}
		if user == nil || *user != uid {
			errorf(&out, "container %s must run as uid %d (the image's user)", c.Name, uid)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			errorf(&out, "container %s must have a read-only root filesystem", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			errorf(&out, "container %s must set allowPrivilegeEscalation: false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			errorf(&out, "container %s must not be privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			errorf(&out, "container %s must drop ALL capabilities", c.Name)
		} else if len(sc.Capabilities.Add) > 0 {
			errorf(&out, "container %s adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
		seccomp := psc.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			errorf(&out, "container %s must use seccomp RuntimeDefault", c.Name)
		}
	}
	return out
}
