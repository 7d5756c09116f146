package kustomize

import (
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	appName   = "transaction-validator"
	namespace = "transaction-validator"
	httpPort  = 8080
	// consoleTestPort is the validator's console-test listener (components/operator-console).
	consoleTestPort = 8082
	metricsPort     = 9090
	uid             = 65532
	customMetric    = "txv_validate_requests_per_second"
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
	// Load shedding, the Redis pool and the time budget (rules_overload_test.go).
	"MAX_IN_FLIGHT", "REDIS_POOL_SIZE", "REDIS_TIMEOUT", "DB_TIMEOUT", "REQUEST_TIMEOUT",
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
	{"load-shedding", checkLoadShedding},
	{"pdb", checkPDB},
	{"serviceaccount-irsa", checkServiceAccount},
	{"externalsecret", checkExternalSecret},
	{"service", checkService},
	{"ingress-alb", checkIngress},
	{"networkpolicies", checkNetworkPolicies},
	{"canary-gate-path", checkCanaryGatePath},
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
