package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const podsJSON = `{"items": [
 {"metadata": {"name": "c-1"}, "status": {"podIP": "10.246.0.7",
  "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"restartCount": 1}]}},
 {"metadata": {"name": "c-2"}, "status": {"podIP": "",
  "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"restartCount": 0}]}},
 {"metadata": {"name": "c-0", "deletionTimestamp": "2026-12-07T06:00:00Z"}, "status": {"podIP": "10.246.0.3",
  "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"restartCount": 0}]}}
]}`

func TestCanaryPodsAndReadiness(t *testing.T) {
	pods, err := canaryPods(podsJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []canaryPod{{"c-1", "10.246.0.7", true, 1}, {"c-2", "", false, 0}}
	if !slices.Equal(pods, want) {
		t.Fatalf("pods %+v, want %+v", pods, want)
	}
	if _, err := canaryPods("not json"); err == nil {
		t.Error("garbage accepted")
	}
	ready := pods[:1]
	for name, c := range map[string]struct {
		before, now []canaryPod
		want        string
	}{
		"ready":               {nil, ready, ""},
		"none":                {nil, nil, "no canary pods"},
		"not ready":           {nil, pods, "canary pod c-2 is not Ready"},
		"no address":          {nil, []canaryPod{{"c-3", "", true, 0}}, "canary pod c-3 has no address"},
		"unchanged after":     {ready, ready, ""},
		"restarted during":    {ready, []canaryPod{{"c-1", "10.246.0.7", true, 3}}, "canary pod c-1 restarted 2 times while the gate ran"},
		"replaced during":     {ready, []canaryPod{{"c-9", "10.246.0.8", true, 0}}, "canary pod c-9 was replaced while the gate ran"},
		"not ready any more":  {ready, []canaryPod{{"c-1", "10.246.0.7", false, 1}}, "canary pod c-1 is not Ready"},
		"gone after the gate": {ready, nil, "no canary pods"},
	} {
		if got := readinessProblem(c.before, c.now); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

func TestJobDone(t *testing.T) {
	for status, want := range map[string][2]bool{
		"/": {false, false}, "1/": {true, true}, "/1": {false, true}, "0/": {false, false}, "garbage": {false, false},
	} {
		ok, done := jobDone(status)
		if ok != want[0] || done != want[1] {
			t.Errorf("%q: succeeded %v done %v, want %v", status, ok, done, want)
		}
	}
}

func testGate() canaryGate {
	return canaryGate{
		Image:   "127.0.0.1:5055/txv/transaction-validator@sha256:" + strings.Repeat("c", 64),
		Service: "10.96.0.20:80", Pods: []canaryPod{{"c-1", "10.246.0.7", true, 0}, {"c-2", "10.246.0.8", true, 0}},
		Budget: 2000, MinRequests: 100, MaxTime: 2 * time.Minute,
		Thresholds: []string{"-max-error-ratio", "0.01", "-max-p99", "500ms"},
	}
}

// The gate sends through the Service, reads every canary pod's metrics, and is bounded in
// count and time; canary-check's flags are the ones it defines.
func TestGateArgs(t *testing.T) {
	got := strings.Join(testGate().args(), " ")
	want := "-url http://10.96.0.20:80 -requests 2000 -min-requests 100 -batch 50 -concurrency 4 -max-time 2m0s " +
		"-canary-metrics-url http://10.246.0.7:9090/metrics -canary-metrics-url http://10.246.0.8:9090/metrics " +
		"-max-error-ratio 0.01 -max-p99 500ms"
	if got != want {
		t.Errorf("args\n %s\nwant\n %s", got, want)
	}
	src, err := os.ReadFile("../svc/cmd/canary-check/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range testGate().args() {
		if strings.HasPrefix(a, "-") && !strings.Contains(string(src), `"`+a[1:]+`"`) {
			t.Errorf("canary-check defines no flag %s", a)
		}
	}
}

func TestGateJobRefusesWhatItCannotBound(t *testing.T) {
	for name, mutate := range map[string]func(*canaryGate){
		"tag":        func(g *canaryGate) { g.Image = "127.0.0.1:5055/txv/canary-check:latest" },
		"no budget":  func(g *canaryGate) { g.Budget = 0 },
		"no sample":  func(g *canaryGate) { g.MinRequests = 0 },
		"no limit":   func(g *canaryGate) { g.MaxTime = 0 },
		"no pods":    func(g *canaryGate) { g.Pods = nil },
		"no service": func(g *canaryGate) { g.Service = "" },
	} {
		g := testGate()
		mutate(&g)
		if _, err := g.job(); err == nil {
			t.Errorf("%s: job rendered", name)
		}
	}
}

// TestGateJobIsWhatThePoliciesAdmit: the Job's pods carry the label the rendered
// NetworkPolicies admit (kustomize/base/networkpolicy.yaml, whose path rule is
// kustomize/rules_canary_test.go), it runs in the service's namespace on the ports they
// open, and it is as locked down as the service's pods.
func TestGateJobIsWhatThePoliciesAdmit(t *testing.T) {
	out, err := testGate().job()
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			BackoffLimit          *int `json:"backoffLimit"`
			ActiveDeadlineSeconds int  `json:"activeDeadlineSeconds"`
			Template              struct {
				Metadata struct{ Labels map[string]string }
				Spec     struct {
					AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
					SecurityContext              struct {
						RunAsNonRoot bool `json:"runAsNonRoot"`
					} `json:"securityContext"`
					Containers []struct {
						SecurityContext struct {
							ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem"`
							Capabilities           struct{ Drop []string }
						} `json:"securityContext"`
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(out), &job); err != nil {
		t.Fatal(err)
	}
	s := job.Spec.Template.Spec
	if job.Metadata.Namespace != namespace || job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 ||
		job.Spec.ActiveDeadlineSeconds != 180 || s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken ||
		!s.SecurityContext.RunAsNonRoot || !s.Containers[0].SecurityContext.ReadOnlyRootFilesystem ||
		!slices.Equal(s.Containers[0].SecurityContext.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("job not bounded or not locked down:\n%s", out)
	}

	raw, err := os.ReadFile("../kustomize/base/networkpolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var np struct{ Metadata struct{ Name string } }
		if err := yaml.Unmarshal([]byte(doc), &np); err != nil {
			t.Fatal(err)
		}
		policies[np.Metadata.Name] = doc
	}
	var egress struct {
		Spec struct {
			PodSelector struct{ MatchLabels map[string]string } `json:"podSelector"`
			Egress      []struct{ Ports []struct{ Port int } }
		}
	}
	if err := yaml.Unmarshal([]byte(policies["canary-gate"]), &egress); err != nil || len(egress.Spec.Egress) != 1 {
		t.Fatalf("policy canary-gate: %v\n%s", err, policies["canary-gate"])
	}
	for k, v := range egress.Spec.PodSelector.MatchLabels {
		if job.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the gate's pods lack %s=%s, which the policy canary-gate selects", k, v)
		}
	}
	var ports []int
	for _, p := range egress.Spec.Egress[0].Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, []int{8080, 9090}) {
		t.Errorf("the gate's egress ports %v, want the API's and the metrics' (8080, 9090)", ports)
	}
	var ingress struct {
		Spec struct {
			Ingress []struct {
				From []struct {
					PodSelector struct{ MatchLabels map[string]string } `json:"podSelector"`
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(policies["ingress-from-canary-gate"]), &ingress); err != nil || len(ingress.Spec.Ingress) != 1 {
		t.Fatalf("policy ingress-from-canary-gate: %v", err)
	}
	for k, v := range ingress.Spec.Ingress[0].From[0].PodSelector.MatchLabels {
		if job.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the gate's pods lack %s=%s, which ingress-from-canary-gate admits", k, v)
		}
	}
}
