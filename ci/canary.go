package main

// The canary's release gate: how deploy judges the canary Deployment (deploy.go) before
// promoting it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"dagger/transaction-validator/internal/dagger"
)

const (
	// gateJob is the Job that runs the live gate in the service's namespace.
	gateJob = deployment + "-canary-gate"
	// gateLabel is its pods' app.kubernetes.io/name: what the NetworkPolicies
	// ingress-from-canary-gate and canary-gate (kustomize/base/networkpolicy.yaml) admit.
	gateLabel = "canary-gate"
	// gateBatch is how many transactions the gate sends between two reads of the
	// canary's metrics: small enough not to overshoot the sample by much.
	gateBatch = 50
)

// canaryGate is what one live canary check needs to know.
type canaryGate struct {
	// Image runs canary-check (publish --name=canary-check), by digest.
	Image string
	// Service is the validator Service's ClusterIP:port: the traffic goes where clients'
	// goes, and the canary gets its share of it.
	Service string
	// Pods are the canary pods, read before the gate.
	Pods []canaryPod
	// Budget bounds the transactions sent, MaxTime the time spent sending.
	Budget  int
	MaxTime time.Duration
	// MinRequests is the sample the canary's own metrics must count.
	MinRequests int
	// Thresholds are canary-check's -max-error-ratio and -max-p99 flags.
	Thresholds []string
}

// canaryPod is what the gate reads of one canary pod.
type canaryPod struct {
	Name     string
	IP       string
	Ready    bool
	Restarts int
}

// canaryPods reads the pods of `kubectl get pods -o json`, but those being deleted.
func canaryPods(podsJSON string) ([]canaryPod, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string
				DeletionTimestamp *string `json:"deletionTimestamp"`
			}
			Status struct {
				PodIP      string
				Conditions []struct{ Type, Status string }
				// Restarts: the containers' restart counts, summed.
				ContainerStatuses []struct{ RestartCount int }
			}
		}
	}
	if err := json.Unmarshal([]byte(podsJSON), &list); err != nil {
		return nil, fmt.Errorf("canary pods: %w", err)
	}
	var pods []canaryPod
	for _, it := range list.Items {
		if it.Metadata.DeletionTimestamp != nil {
			continue // a replaced pod on its way out: it takes no traffic and is not judged
		}
		p := canaryPod{Name: it.Metadata.Name, IP: it.Status.PodIP}
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				p.Ready = true
			}
		}
		for _, c := range it.Status.ContainerStatuses {
			p.Restarts += c.RestartCount
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// readinessProblem says what is wrong with the canary pods' readiness, before the gate
// (before == nil) or after it (compared with before): none at all, one not Ready or
// without an address, one replaced or restarted while the gate ran. "" when none.
func readinessProblem(before, now []canaryPod) string {
	if len(now) == 0 {
		return "no canary pods"
	}
	was := map[string]canaryPod{}
	for _, p := range before {
		was[p.Name] = p
	}
	for _, p := range now {
		switch {
		case !p.Ready:
			return fmt.Sprintf("canary pod %s is not Ready", p.Name)
		case p.IP == "":
			return fmt.Sprintf("canary pod %s has no address", p.Name)
		}
		if before == nil {
			continue
		}
		b, ok := was[p.Name]
		switch {
		case !ok:
			return fmt.Sprintf("canary pod %s was replaced while the gate ran", p.Name)
		case p.Restarts > b.Restarts:
			return fmt.Sprintf("canary pod %s restarted %d times while the gate ran", p.Name, p.Restarts-b.Restarts)
		}
	}
	return ""
}

// args is canary-check's command line in sampled mode.
func (g canaryGate) args() []string {
	args := []string{"-url", "http://" + g.Service, "-requests", strconv.Itoa(g.Budget),
		"-min-requests", strconv.Itoa(g.MinRequests), "-batch", strconv.Itoa(gateBatch),
		"-concurrency", "4", "-max-time", g.MaxTime.String()}
	for _, p := range g.Pods {
		args = append(args, "-canary-metrics-url", "http://"+p.IP+":9090/metrics")
	}
	return append(args, g.Thresholds...)
}

// job is the gate's Job: one pod, never retried (a second run would judge twice), as
// locked down as the service's own pods, no API token, gone ten minutes after it ends.
func (g canaryGate) job() (string, error) {
	if !digestRef.MatchString(g.Image) {
		return "", fmt.Errorf("gate image %q is not a reference by digest", g.Image)
	}
	if g.Budget <= 0 || g.MinRequests <= 0 || g.MaxTime <= 0 || len(g.Pods) == 0 || g.Service == "" {
		return "", fmt.Errorf("canary gate: needs a budget, a minimum sample, a time limit, the Service and the canary pods (got %+v)", g)
	}
	labels := map[string]any{"app.kubernetes.io/name": gateLabel, "app.kubernetes.io/part-of": deployment}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": gateJob, "namespace": namespace, "labels": labels},
		"spec": map[string]any{
			"backoffLimit": 0,
			// Sending is bounded by -max-time; the rest is start-up and the last read.
			"activeDeadlineSeconds":   int(g.MaxTime.Seconds()) + 60,
			"ttlSecondsAfterFinished": 600,
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"restartPolicy":                "Never",
					"automountServiceAccountToken": false,
					"securityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
						"seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"containers": []any{map[string]any{
						"name":  gateLabel,
						"image": g.Image,
						"args":  g.args(),
						"resources": map[string]any{
							"requests": map[string]any{"cpu": "100m", "memory": "64Mi"},
							"limits":   map[string]any{"memory": "128Mi"},
						},
						"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
							"capabilities": map[string]any{"drop": []any{"ALL"}}},
					}},
				},
			},
		},
	}
	out, err := yaml.Marshal(job)
	return string(out), err
}

// liveCanary is the gate of every environment whose pods run (all but "local" on kwok's
// fake nodes): the canary pod behind the Service, judged from its own metrics. In order:
// the canary pods must be Ready; a Job in the namespace (gate.job) drives bounded synthetic
// traffic through the Service until the canary's metrics count minRequests and judges
// error ratio and p99 there (canary-check, sampled mode); the pods must still be the same,
// Ready and not restarted afterwards. The Job's log is the verdict's evidence.
func (m *TransactionValidator) liveCanary(ctx context.Context, k *kube, gateImage string, budget, minRequests int,
	maxTime time.Duration, thresholds []string, logf func(string, ...any)) (string, error) {
	if gateImage == "" {
		return "", fmt.Errorf("the live canary gate needs --gate-image (publish --name=canary-check)")
	}
	list := func() ([]canaryPod, error) {
		out, err := k.run(ctx, "list canary pods", "-n", namespace, "get", "pods", "-l", "track=canary", "-o", "json")
		if err != nil {
			return nil, err
		}
		return canaryPods(out)
	}
	before, err := list()
	if err != nil {
		return "", err
	}
	if p := readinessProblem(nil, before); p != "" {
		return "", fmt.Errorf("%s", p)
	}
	svc, err := k.run(ctx, "read the Service", "-n", namespace, "get", "service", deployment,
		"-o", `jsonpath={.spec.clusterIP}:{.spec.ports[?(@.name=="http")].port}`)
	if err != nil {
		return "", err
	}
	if host, port, ok := strings.Cut(svc, ":"); !ok || host == "" || host == "None" || port == "" {
		return "", fmt.Errorf("service %s has no ClusterIP and http port (%q)", deployment, svc)
	}
	g := canaryGate{Image: gateImage, Service: svc, Pods: before, Budget: budget, MinRequests: minRequests,
		MaxTime: maxTime, Thresholds: thresholds}
	job, err := g.job()
	if err != nil {
		return "", err
	}
	// A gate left by an interrupted deploy would judge the wrong pods.
	if _, err := k.run(ctx, "remove an old gate", "-n", namespace, "delete", "job", gateJob, "--ignore-not-found", "--wait=true"); err != nil {
		return "", err
	}
	if _, err := k.apply(ctx, "start the canary gate", job); err != nil {
		return "", err
	}
	defer func() {
		// Best effort: the Job's TTL removes it anyway.
		_, _ = k.run(context.WithoutCancel(ctx), "remove the gate", "-n", namespace, "delete", "job", gateJob,
			"--ignore-not-found", "--wait=false")
	}()
	logf("canary gate: up to %d synthetic transactions through %s for %s, until the canary counts %d", budget, svc, maxTime, minRequests)
	succeeded, err := k.waitJob(ctx, gateJob, g.MaxTime+2*time.Minute)
	logs, _ := k.run(ctx, "gate log", "-n", namespace, "logs", "job/"+gateJob, "--tail=20")
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, logs)
	}
	if !succeeded {
		return "", fmt.Errorf("%s", lastLine(logs, fmt.Errorf("the gate failed and left no log")))
	}
	after, err := list()
	if err != nil {
		return "", err
	}
	if p := readinessProblem(before, after); p != "" {
		return "", fmt.Errorf("%s", p)
	}
	return logs, nil
}

// waitJob polls a Job until it succeeded or failed, up to timeout.
func (k *kube) waitJob(ctx context.Context, name string, timeout time.Duration) (bool, error) {
	end := time.Now().Add(timeout)
	for {
		out, err := k.run(ctx, "gate status", "-n", namespace, "get", "job", name,
			"-o", "jsonpath={.status.succeeded}/{.status.failed}")
		if err != nil {
			return false, err
		}
		if ok, done := jobDone(out); done {
			return ok, nil
		}
		if time.Now().After(end) {
			return false, fmt.Errorf("the canary gate did not finish within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

// jobDone reads "SUCCEEDED/FAILED" (either may be empty) of a one-pod Job.
func jobDone(status string) (succeeded, done bool) {
	s, f, _ := strings.Cut(status, "/")
	if n, _ := strconv.Atoi(s); n > 0 {
		return true, true
	}
	if n, _ := strconv.Atoi(f); n > 0 {
		return false, true
	}
	return false, false
}

// syntheticCanary is the gate of "local" on kwok's fake nodes, whose pods run no process:
// the same image run as a Dagger service against PostgreSQL and Redis services, judged by
// canary-check under synthetic traffic.
func (m *TransactionValidator) syntheticCanary(ctx context.Context, image string, requests int, thresholds []string) (string, error) {
	password, dbURL, err := canaryDatabaseSecrets()
	if err != nil {
		return "", err
	}
	hmacKey, _, err := randomSecret("canary-pan-hmac-key", 32) // the service wants 32 bytes
	if err != nil {
		return "", err
	}
	version := dag.Container().From(image).
		WithServiceBinding("postgres", postgresService(password)).
		WithServiceBinding("redis", redisService()).
		WithSecretVariable("DATABASE_URL", dbURL).
		WithSecretVariable("PAN_HMAC_KEY", hmacKey).
		WithEnvVariable("REDIS_ENDPOINT", "redis:6379").
		WithEnvVariable("MAX_TRANSACTIONS_PER_SECOND", "100000").
		WithEnvVariable("TXV_NONCE", nonce()).
		WithExposedPort(8080).WithExposedPort(9090).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true})
	probe := m.goEnv().
		WithServiceBinding("canary", version).
		WithEnvVariable("TXV_NONCE", nonce())
	args := append([]string{"go", "run", "./svc/cmd/canary-check", "-url", "http://canary:8080",
		"-metrics-url", "http://canary:9090/metrics", "-requests", strconv.Itoa(requests)}, thresholds...)
	return run(ctx, probe, "canary-check (synthetic)", args...)
}

// canaryDatabaseSecrets makes a one-deploy PostgreSQL password and the matching URL.
func canaryDatabaseSecrets() (password, url *dagger.Secret, err error) {
	password, pw, err := randomSecret("canary-db-password", 24)
	if err != nil {
		return nil, nil, err
	}
	return password, dag.SetSecret("canary-db-url-"+pw[:8], "postgres://postgres:"+pw+"@postgres:5432/postgres?sslmode=disable"), nil
}
