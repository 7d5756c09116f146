package kustomize

import (
	"fmt"
	"net"
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

// env is what differs between environments; every other rule is the same everywhere.
type env struct {
	name string
	// minReplicas is the floor the HPA must keep (issue: >= 3 in staging and prod).
	minReplicas int32
	// dbConnBudget is the share of the database's max_connections this service may use:
	// maxReplicas x DB_POOL_MAX_CONNS must fit in it, which is what bounds maxReplicas.
	dbConnBudget int
	// hardAntiAffinity: two replicas may never share a node.
	hardAntiAffinity bool
	// minZones the zone spread must count (minDomains), 0 when not required.
	minZones int32
	logLevel string
}

var envs = []env{
	{name: "dev", minReplicas: 1, dbConnBudget: 50, logLevel: "debug"},
	{name: "staging", minReplicas: 3, dbConnBudget: 150, hardAntiAffinity: true, minZones: 3, logLevel: "info"},
	{name: "prod", minReplicas: 3, dbConnBudget: 400, hardAntiAffinity: true, minZones: 3, logLevel: "info"},
}

const (
	appName      = "transaction-validator"
	namespace    = "transaction-validator"
	httpPort     = 8080
	metricsPort  = 9090
	uid          = 65532
	customMetric = "txv_validate_requests_per_second"
)

// Namespaces (and their pods) allowed to call the service directly, and scrape it.
var internalClients = map[string]string{
	"payment-gateway": "payment-gateway", // namespace -> app.kubernetes.io/name
	"monitoring":      "prometheus",
	// components/operator-console: the console submits test transactions (VALIDATOR_URL).
	"transaction-validator": "operator-console",
}

// configKeys are the only settings the app ConfigMap may carry; all are non-secret.
var configKeys = []string{
	"LOG_LEVEL", "MAX_TRANSACTIONS_PER_SECOND", "REDIS_ENDPOINT", "REDIS_CLUSTER_MODE",
	"DB_STATEMENT_MODE", "DB_POOL_MAX_CONNS", "SHUTDOWN_DRAIN_DELAY", "SHUTDOWN_TIMEOUT",
	// components/tracing: the collector's in-cluster URL and the head-sampling ratio.
	"OTEL_EXPORTER_OTLP_ENDPOINT", "TRACE_SAMPLE_RATIO",
}

type rule struct {
	name  string
	check func(e env, m *manifests) []string
}

// rules is the table every environment is checked against. Each returns the violations it
// found (empty = pass); the mutation test proves each one can fail.
var rules = []rule{
	{"no-placeholders", checkNoPlaceholders},
	{"namespace-psa-restricted", checkNamespace},
	{"replicas-owned-by-hpa", checkReplicas},
	{"rolling-update-for-payments", checkRollout},
	{"image-pinned-by-digest", checkImage},
	{"resources", checkResources},
	{"probes", checkProbes},
	{"pod-security", checkPodSecurity},
	{"spread-zones-and-nodes", checkSpread},
	{"graceful-shutdown", checkGrace},
	{"configmap", checkConfigMap},
	{"hpa", checkHPA},
	{"pdb", checkPDB},
	{"serviceaccount-irsa", checkServiceAccount},
	{"externalsecret", checkExternalSecret},
	{"service", checkService},
	{"ingress-alb", checkIngress},
	{"networkpolicies", checkNetworkPolicies},
	{"servicemonitor", checkServiceMonitor},
}

func errorf(out *[]string, format string, args ...any) {
	*out = append(*out, fmt.Sprintf(format, args...))
}

func deployment(m *manifests) (*appsv1.Deployment, []string) {
	if len(m.Deployments) != 1 {
		return nil, []string{fmt.Sprintf("want exactly 1 Deployment, got %d", len(m.Deployments))}
	}
	return &m.Deployments[0], nil
}

func container(d *appsv1.Deployment) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == appName {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// appConfig is the ConfigMap the Deployment's envFrom points at (its name carries a hash).
func appConfig(m *manifests) (*corev1.ConfigMap, error) {
	d, errs := deployment(m)
	if errs != nil {
		return nil, fmt.Errorf("%s", errs[0])
	}
	c := container(d)
	if c == nil {
		return nil, fmt.Errorf("no container %q", appName)
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		for i := range m.ConfigMaps {
			if m.ConfigMaps[i].Name == ef.ConfigMapRef.Name {
				return &m.ConfigMaps[i], nil
			}
		}
		return nil, fmt.Errorf("envFrom ConfigMap %q is not in the output", ef.ConfigMapRef.Name)
	}
	return nil, fmt.Errorf("container has no envFrom ConfigMap")
}

var placeholder = regexp.MustCompile(`TF_OUTPUT_MISSING|192\.0\.2\.|your-registry/transaction-validator:`)

func checkNoPlaceholders(_ env, m *manifests) (out []string) {
	for _, hit := range placeholder.FindAll(m.raw, -1) {
		errorf(&out, "unfilled placeholder %q (a Terraform output or the image digest was not patched in)", hit)
	}
	return out
}

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

func checkHPA(e env, m *manifests) (out []string) {
	if len(m.HPAs) != 1 {
		return []string{"want exactly 1 HorizontalPodAutoscaler"}
	}
	h := m.HPAs[0]
	cm, err := appConfig(m)
	if err != nil {
		return []string{err.Error()}
	}
	if h.Spec.MinReplicas == nil || h.Spec.MaxReplicas <= *h.Spec.MinReplicas {
		errorf(&out, "maxReplicas must be above minReplicas or the HPA cannot scale")
	}
	pool, err := strconv.Atoi(cm.Data["DB_POOL_MAX_CONNS"])
	if err != nil {
		pool = 16 // the service's default
	}
	if int(h.Spec.MaxReplicas)*pool > e.dbConnBudget {
		errorf(&out, "maxReplicas %d x DB_POOL_MAX_CONNS %d = %d exceeds the %s database connection budget %d",
			h.Spec.MaxReplicas, pool, int(h.Spec.MaxReplicas)*pool, e.name, e.dbConnBudget)
	}
	var cpu, rps bool
	for _, mt := range h.Spec.Metrics {
		switch {
		case mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU:
			u := mt.Resource.Target.AverageUtilization
			cpu = u != nil && *u > 0 && *u <= 80
			if !cpu {
				errorf(&out, "CPU target must be an averageUtilization in (0, 80]%%")
			}
		case mt.Pods != nil && mt.Pods.Metric.Name == customMetric:
			rps = true
			// MAX_TRANSACTIONS_PER_SECOND is service-wide: at the HPA ceiling the pods must
			// be able to carry everything the limiter admits at their per-pod target, or the
			// fleet saturates below the rate the service promises to accept.
			limit, err := strconv.Atoi(cm.Data["MAX_TRANSACTIONS_PER_SECOND"])
			v := mt.Pods.Target.AverageValue
			if v == nil || err != nil || v.Sign() <= 0 {
				errorf(&out, "%s needs a positive AverageValue target and MAX_TRANSACTIONS_PER_SECOND", customMetric)
			} else if capacity := float64(h.Spec.MaxReplicas) * v.AsApproximateFloat64(); capacity < float64(limit) {
				errorf(&out, "maxReplicas %d x %s target %s = %.0f req/s is below MAX_TRANSACTIONS_PER_SECOND %d: the fleet cannot carry what the service admits",
					h.Spec.MaxReplicas, customMetric, v.String(), capacity, limit)
			}
		}
	}
	if !cpu {
		errorf(&out, "HPA must scale on CPU utilization")
	}
	if !rps {
		errorf(&out, "HPA must scale on the custom Pods metric %s", customMetric)
	}
	if b := h.Spec.Behavior; b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds < 120 {
		errorf(&out, "scale-down needs a stabilization window >= 120s so bursts do not flap the replica count")
	}
	return out
}

func checkPDB(e env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	if len(m.PDBs) != 1 {
		return []string{"want exactly 1 PodDisruptionBudget"}
	}
	p := m.PDBs[0].Spec
	if p.Selector == nil || !selects(p.Selector.MatchLabels, d.Spec.Template.Labels) {
		errorf(&out, "PDB selector does not select the pods")
	}
	switch {
	case p.MaxUnavailable != nil:
		if p.MaxUnavailable.Type != intstr.Int || p.MaxUnavailable.IntVal != 1 {
			errorf(&out, "PDB maxUnavailable must be 1, is %s", p.MaxUnavailable.String())
		}
	case p.MinAvailable != nil:
		if p.MinAvailable.Type != intstr.Int || p.MinAvailable.IntVal < e.minReplicas-1 || p.MinAvailable.IntVal >= e.minReplicas {
			errorf(&out, "PDB minAvailable must be minReplicas-1 (%d), is %s", e.minReplicas-1, p.MinAvailable.String())
		}
	default:
		errorf(&out, "PDB sets neither maxUnavailable nor minAvailable")
	}
	return out
}

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

func checkService(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	if len(m.Services) != 1 {
		return []string{"want exactly 1 Service"}
	}
	s := m.Services[0]
	if s.Spec.Type != corev1.ServiceTypeClusterIP && s.Spec.Type != "" {
		errorf(&out, "Service must be ClusterIP, is %s", s.Spec.Type)
	}
	if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
		errorf(&out, "Service selector does not select the pods")
	}
	c := container(d)
	ports := map[string]int32{}
	for _, p := range s.Spec.Ports {
		if c != nil {
			ports[p.Name] = resolvePort(c, p.TargetPort)
		}
	}
	if ports["http"] != httpPort || ports["metrics"] != metricsPort {
		errorf(&out, "Service ports must be http->%d and metrics->%d, are %v", httpPort, metricsPort, ports)
	}
	return out
}

var (
	acmARN = regexp.MustCompile(`^arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$`)
	wafARN = regexp.MustCompile(`^arn:aws:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[\w-]+/[0-9a-f-]+$`)
)

func checkIngress(_ env, m *manifests) (out []string) {
	if len(m.Ingresses) != 1 {
		return []string{"want exactly 1 Ingress"}
	}
	ing := m.Ingresses[0]
	a := ing.Annotations
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "alb" {
		errorf(&out, "ingressClassName must be alb (AWS Load Balancer Controller)")
	}
	for k, want := range map[string]string{
		"alb.ingress.kubernetes.io/target-type":  "ip",
		"alb.ingress.kubernetes.io/ssl-redirect": "443",
	} {
		if a[k] != want {
			errorf(&out, "annotation %s must be %q, is %q", k, want, a[k])
		}
	}
	if !strings.Contains(a["alb.ingress.kubernetes.io/listen-ports"], `"HTTPS": 443`) {
		errorf(&out, "the ALB must listen on HTTPS 443")
	}
	if !acmARN.MatchString(a["alb.ingress.kubernetes.io/certificate-arn"]) {
		errorf(&out, "certificate-arn %q is not an ACM certificate ARN", a["alb.ingress.kubernetes.io/certificate-arn"])
	}
	if !wafARN.MatchString(a["alb.ingress.kubernetes.io/wafv2-acl-arn"]) {
		errorf(&out, "wafv2-acl-arn %q is not a regional WAFv2 web ACL ARN", a["alb.ingress.kubernetes.io/wafv2-acl-arn"])
	}
	if !regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`).MatchString(a["alb.ingress.kubernetes.io/security-groups"]) {
		errorf(&out, "security-groups must be Terraform's ALB security group id, is %q", a["alb.ingress.kubernetes.io/security-groups"])
	}
	if !strings.HasPrefix(a["alb.ingress.kubernetes.io/ssl-policy"], "ELBSecurityPolicy-TLS13-") {
		errorf(&out, "ssl-policy must be a TLS 1.3 policy (TLS 1.2 minimum)")
	}
	var paths []string
	for _, r := range ing.Spec.Rules {
		tlsHost := false
		for _, t := range ing.Spec.TLS {
			tlsHost = tlsHost || slices.Contains(t.Hosts, r.Host)
		}
		if r.Host == "" || !tlsHost {
			errorf(&out, "rule host %q must be named and listed under tls", r.Host)
		}
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			paths = append(paths, p.Path)
			if p.Backend.Service == nil || p.Backend.Service.Name != appName || p.Backend.Service.Port.Name != "http" {
				errorf(&out, "path %s must go to Service %s port http", p.Path, appName)
			}
			if p.PathType == nil || (*p.PathType != "Exact" && *p.PathType != "Prefix") {
				errorf(&out, "path %s needs pathType Exact or Prefix", p.Path)
			}
		}
	}
	// Only the API is published; probes and /metrics stay internal.
	if !slices.Equal(paths, []string{"/api/validate"}) {
		errorf(&out, "Ingress must publish exactly /api/validate, publishes %v", paths)
	}
	return out
}

func checkNetworkPolicies(_ env, m *manifests) (out []string) {
	d, errs := deployment(m)
	if errs != nil {
		return errs
	}
	podLabels := d.Spec.Template.Labels
	defaultDeny := false
	var albIngress, dns, db, redis bool
	for _, np := range m.NetworkPolicies {
		s := np.Spec
		if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 {
			if slices.Contains(s.PolicyTypes, "Ingress") && slices.Contains(s.PolicyTypes, "Egress") && len(s.Ingress) == 0 && len(s.Egress) == 0 {
				defaultDeny = true
				continue
			}
			errorf(&out, "%s: a policy for every pod may only deny", np.Name)
			continue
		}
		if !selects(s.PodSelector.MatchLabels, podLabels) {
			errorf(&out, "%s does not select the service's pods", np.Name)
		}
		for _, r := range s.Ingress {
			if len(r.From) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an ingress rule without peers or ports allows everything", np.Name)
				continue
			}
			for _, p := range r.From {
				switch {
				case p.IPBlock != nil:
					if !privateCIDR(p.IPBlock.CIDR) {
						errorf(&out, "%s: ingress from %s; only the ALB's VPC subnets may be an IP peer", np.Name, p.IPBlock.CIDR)
					}
					for _, port := range r.Ports {
						if port.Port == nil || resolvePort(container(d), *port.Port) != httpPort {
							errorf(&out, "%s: the ALB may only reach port %d", np.Name, httpPort)
						}
					}
					albIngress = true
				case p.NamespaceSelector != nil && p.PodSelector != nil:
					ns := p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
					if app, ok := internalClients[ns]; !ok || p.PodSelector.MatchLabels["app.kubernetes.io/name"] != app {
						errorf(&out, "%s: ingress from %s/%v is not a named internal client", np.Name, ns, p.PodSelector.MatchLabels)
					}
				default:
					errorf(&out, "%s: ingress peers must name both namespace and pods, or be the ALB's CIDR", np.Name)
				}
			}
		}
		for _, r := range s.Egress {
			if len(r.To) == 0 || len(r.Ports) == 0 {
				errorf(&out, "%s: an egress rule without peers or ports allows everything", np.Name)
				continue
			}
			ports := map[int32]bool{}
			for _, p := range r.Ports {
				if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
					errorf(&out, "%s: egress ports must be single numbers", np.Name)
					continue
				}
				ports[p.Port.IntVal] = true
			}
			for _, p := range r.To {
				switch {
				case p.IPBlock != nil:
					if !privateCIDR(p.IPBlock.CIDR) {
						errorf(&out, "%s: egress to %s; only VPC-internal data subnets are allowed", np.Name, p.IPBlock.CIDR)
					}
					for port := range ports {
						switch port {
						case 5432:
							db = true
						case 6379:
							redis = true
						default:
							errorf(&out, "%s: egress port %d is neither the database nor Redis", np.Name, port)
						}
					}
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" &&
					p.PodSelector.MatchLabels["k8s-app"] == "kube-dns":
					for port := range ports {
						if port != 53 {
							errorf(&out, "%s: kube-dns may only be reached on port 53", np.Name)
						}
					}
					dns = true
				case p.NamespaceSelector != nil && p.PodSelector != nil &&
					p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "tracing" &&
					p.PodSelector.MatchLabels["app.kubernetes.io/name"] == "otel-collector":
					// components/tracing: OTLP/HTTP to the collector, nothing else.
					for port := range ports {
						if port != 4318 {
							errorf(&out, "%s: the OTel collector may only be reached on OTLP/HTTP 4318", np.Name)
						}
					}
				default:
					errorf(&out, "%s: egress peer is not DNS, the database, Redis or the OTel collector", np.Name)
				}
			}
		}
	}
	if !defaultDeny {
		errorf(&out, "no default-deny NetworkPolicy (ingress and egress)")
	}
	for what, ok := range map[string]bool{"ingress from the ALB": albIngress, "egress to DNS": dns, "egress to the database": db, "egress to Redis": redis} {
		if !ok {
			errorf(&out, "no NetworkPolicy allows %s", what)
		}
	}
	return out
}

// privateCIDR: an RFC 1918 range no wider than a /16 (a VPC); rules out 0.0.0.0/0 and
// "the whole 10/8" shortcuts.
func privateCIDR(cidr string) bool {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil || !ip.IsPrivate() || ip.To4() == nil {
		return false
	}
	ones, _ := n.Mask.Size()
	return ones >= 16
}

func checkServiceMonitor(_ env, m *manifests) (out []string) {
	if len(m.Services) != 1 {
		return []string{"want exactly 1 Service"}
	}
	sms := m.Custom["ServiceMonitor"]
	if len(sms) != 1 {
		return []string{"the HPA's request-rate metric needs the ServiceMonitor (components/servicemonitor)"}
	}
	sel, _ := path(sms[0], "spec", "selector", "matchLabels").(map[string]any)
	labels := map[string]string{}
	for k, v := range sel {
		labels[k] = str(v)
	}
	if !selects(labels, m.Services[0].Labels) {
		errorf(&out, "ServiceMonitor does not select the Service")
	}
	eps, _ := path(sms[0], "spec", "endpoints").([]any)
	ok := false
	for _, ep := range eps {
		em, _ := ep.(map[string]any)
		ok = ok || (str(em["port"]) == "metrics" && str(em["path"]) == "/metrics")
	}
	if !ok {
		errorf(&out, "ServiceMonitor must scrape port metrics at /metrics")
	}
	return out
}
