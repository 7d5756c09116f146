package kustomize

// The validator's Deployment (base/deployment.yaml): replicas, rollout, image, resources,
// probes, zone spread, graceful shutdown, and the ConfigMap it reads its settings from.

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func checkReplicas(e env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	// With the HPA managing the count, a replicas field would reset it on every apply.
	if d.Spec.Replicas != nil {
		errorf(&out, "Deployment sets spec.replicas=%d; the HPA owns the replica count", *d.Spec.Replicas)
	}
	if len(m.HPAs) != 1 {
		return append(out, "want exactly 1 HorizontalPodAutoscaler")
	}
	h := m.HPAs[0]
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
		errorf(&out, "HPA targets %s/%s, not the Deployment", h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < e.minReplicas {
		errorf(&out, "%s needs at least %d replicas at all times (HPA minReplicas)", e.name, e.minReplicas)
	}
	return out
}

func checkRollout(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	s := d.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil {
		return []string{"strategy must be RollingUpdate"}
	}
	if s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.String() != "0" {
		errorf(&out, "rollingUpdate.maxUnavailable must be 0 (never below serving capacity), is %v", s.RollingUpdate.MaxUnavailable)
	}
	if s.RollingUpdate.MaxSurge == nil || s.RollingUpdate.MaxSurge.String() == "0" || s.RollingUpdate.MaxSurge.String() == "0%" {
		errorf(&out, "rollingUpdate.maxSurge must be > 0 or the rollout cannot progress with maxUnavailable 0")
	}
	if d.Spec.MinReadySeconds < 10 {
		errorf(&out, "minReadySeconds must be >= 10, is %d", d.Spec.MinReadySeconds)
	}
	c := container(d)
	startup := int32(0)
	if c != nil && c.StartupProbe != nil {
		startup = c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold
	}
	// The deadline must leave time for one pod to start, become ready and be held for
	// minReadySeconds, or healthy rollouts get reported as failed.
	if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds < 2*(startup+d.Spec.MinReadySeconds) {
		errorf(&out, "progressDeadlineSeconds must be set and >= 2 x (startup budget %ds + minReadySeconds %ds)", startup, d.Spec.MinReadySeconds)
	}
	return out
}

var digestRef = regexp.MustCompile(`^[a-z0-9.\-/:]*/?transaction-validator@sha256:[0-9a-f]{64}$`)

func checkImage(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
		if !digestRef.MatchString(c.Image) {
			errorf(&out, "container %s image %q is not pinned by digest", c.Name, c.Image)
		}
	}
	return out
}

func checkResources(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		r := c.Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := r.Requests[name]; !ok {
				errorf(&out, "container %s has no %s request", c.Name, name)
			}
			if _, ok := r.Limits[name]; !ok {
				errorf(&out, "container %s has no %s limit", c.Name, name)
			}
		}
		if rc, lc := r.Requests[corev1.ResourceCPU], r.Limits[corev1.ResourceCPU]; rc.Cmp(lc) > 0 {
			errorf(&out, "container %s CPU request %s exceeds its limit %s", c.Name, rc.String(), lc.String())
		}
		// Memory is not compressible: a request below the limit makes the pod an early
		// eviction/OOM candidate when the node runs short.
		rm, lm := r.Requests[corev1.ResourceMemory], r.Limits[corev1.ResourceMemory]
		if rm.Cmp(lm) != 0 {
			errorf(&out, "container %s memory request %s != limit %s", c.Name, rm.String(), lm.String())
		}
		if c.Name == appName {
			var gml string
			for _, ev := range c.Env {
				if ev.Name == "GOMEMLIMIT" {
					gml = ev.Value
				}
			}
			q, err := resource.ParseQuantity(strings.TrimSuffix(gml, "B"))
			if gml == "" || err != nil {
				errorf(&out, "GOMEMLIMIT must be set to a size below the memory limit, is %q", gml)
			} else if q.Cmp(lm) >= 0 {
				errorf(&out, "GOMEMLIMIT %s must be below the memory limit %s", gml, lm.String())
			}
		}
	}
	return out
}

func checkProbes(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	c := container(d)
	if c == nil {
		return []string{"no container " + appName}
	}
	want := []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/startupz"},
		{"livenessProbe", c.LivenessProbe, "/livez"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	}
	for _, w := range want {
		if w.probe == nil || w.probe.HTTPGet == nil {
			errorf(&out, "%s must be an HTTP GET of %s", w.kind, w.path)
			continue
		}
		if w.probe.HTTPGet.Path != w.path {
			errorf(&out, "%s path is %q, want %q", w.kind, w.probe.HTTPGet.Path, w.path)
		}
		if port := resolvePort(c, w.probe.HTTPGet.Port); port != httpPort {
			errorf(&out, "%s port resolves to %d, want %d", w.kind, port, httpPort)
		}
	}
	return out
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

func checkSpread(e env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	ps := d.Spec.Template.Spec
	podLabels := d.Spec.Template.Labels
	var zone *corev1.TopologySpreadConstraint
	for i, t := range ps.TopologySpreadConstraints {
		if t.TopologyKey == "topology.kubernetes.io/zone" {
			zone = &ps.TopologySpreadConstraints[i]
		}
	}
	switch {
	case zone == nil:
		errorf(&out, "pods must be spread over zones (topologySpreadConstraints on topology.kubernetes.io/zone)")
	default:
		if zone.MaxSkew != 1 || zone.WhenUnsatisfiable != corev1.DoNotSchedule {
			errorf(&out, "zone spread must be maxSkew 1, DoNotSchedule; is %d, %s", zone.MaxSkew, zone.WhenUnsatisfiable)
		}
		if zone.LabelSelector == nil || !selects(zone.LabelSelector.MatchLabels, podLabels) {
			errorf(&out, "zone spread labelSelector does not select the pods")
		}
		if e.minZones > 0 && (zone.MinDomains == nil || *zone.MinDomains < e.minZones) {
			errorf(&out, "%s zone spread must count at least %d zones (minDomains)", e.name, e.minZones)
		}
	}
	aa := (*corev1.PodAntiAffinity)(nil)
	if ps.Affinity != nil {
		aa = ps.Affinity.PodAntiAffinity
	}
	hard, soft := false, false
	if aa != nil {
		for _, t := range aa.RequiredDuringSchedulingIgnoredDuringExecution {
			if t.TopologyKey == "kubernetes.io/hostname" && t.LabelSelector != nil && selects(t.LabelSelector.MatchLabels, podLabels) {
				hard = true
			}
		}
		for _, w := range aa.PreferredDuringSchedulingIgnoredDuringExecution {
			t := w.PodAffinityTerm
			if t.TopologyKey == "kubernetes.io/hostname" && t.LabelSelector != nil && selects(t.LabelSelector.MatchLabels, podLabels) {
				soft = true
			}
		}
	}
	if e.hardAntiAffinity && !hard {
		errorf(&out, "%s needs required pod anti-affinity across nodes (kubernetes.io/hostname)", e.name)
	}
	if !hard && !soft {
		errorf(&out, "pods need anti-affinity across nodes (kubernetes.io/hostname)")
	}
	return out
}

// selects reports whether a matchLabels selector is non-empty and matches labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkGrace(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	cm, err := appConfig(m)
	if err != nil {
		return []string{err.Error()}
	}
	// The service's own defaults apply when the ConfigMap leaves a value out.
	dur := func(key string, def time.Duration) time.Duration {
		v, ok := cm.Data[key]
		if !ok {
			return def
		}
		p, err := time.ParseDuration(v)
		if err != nil {
			errorf(&out, "%s=%q is not a duration", key, v)
		}
		return p
	}
	drain := dur("SHUTDOWN_DRAIN_DELAY", 5*time.Second)
	shutdown := dur("SHUTDOWN_TIMEOUT", 20*time.Second)
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	// 5 s margin: the kubelet's SIGTERM is not instant and the process needs a moment to exit.
	if g == nil || time.Duration(*g)*time.Second < drain+shutdown+5*time.Second {
		errorf(&out, "terminationGracePeriodSeconds must be >= drain %s + shutdown %s + 5s margin", drain, shutdown)
	}
	return out
}

var redisURL = regexp.MustCompile(`^rediss://[a-z0-9.-]+:6379$`)

func checkConfigMap(e env, m *manifests) (out []string) {
	cm, err := appConfig(m)
	if err != nil {
		return []string{err.Error()}
	}
	if cm.Data["LOG_LEVEL"] != e.logLevel {
		errorf(&out, "LOG_LEVEL is %q, want %q in %s", cm.Data["LOG_LEVEL"], e.logLevel, e.name)
	}
	if n, err := strconv.Atoi(cm.Data["MAX_TRANSACTIONS_PER_SECOND"]); err != nil || n <= 0 {
		errorf(&out, "MAX_TRANSACTIONS_PER_SECOND must be a positive integer, is %q", cm.Data["MAX_TRANSACTIONS_PER_SECOND"])
	}
	// TLS to ElastiCache (in-transit encryption) is not optional for card data.
	if !redisURL.MatchString(cm.Data["REDIS_ENDPOINT"]) {
		errorf(&out, "REDIS_ENDPOINT %q must be rediss://HOST:6379", cm.Data["REDIS_ENDPOINT"])
	}
	if cm.Data["REDIS_CLUSTER_MODE"] != "true" {
		errorf(&out, "REDIS_CLUSTER_MODE must be true (ElastiCache cluster mode)")
	}
	// An allow-list, not a deny-list: a new key has to be added here on purpose, which is
	// also what lets kustomize/.trivyignore.yaml waive trivy's ConfigMap-secrets heuristic.
	for k := range cm.Data {
		if !slices.Contains(configKeys, k) {
			errorf(&out, "ConfigMap key %s is not in the allow-list of non-secret settings (secrets go through the ExternalSecret)", k)
		}
	}
	return out
}
