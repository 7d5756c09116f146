package monitoring_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// panelExpr returns the query of the dashboard panel titled title, for namespace ns.
func panelExpr(t *testing.T, title, ns string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(observability, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		if p.Title == title {
			if len(p.Targets) != 1 {
				t.Fatalf("panel %q has %d queries, want 1", title, len(p.Targets))
			}
			return strings.ReplaceAll(p.Targets[0].Expr, "$namespace", ns)
		}
	}
	t.Fatalf("no panel %q in the dashboard", title)
	return ""
}

// allowedNodeLabels returns the node labels kube-state-metrics puts on kube_node_labels
// under kube-prometheus-stack.values.yaml, as Prometheus label names (label_ + the
// Kubernetes label with every character outside [a-zA-Z0-9_] made "_", as
// kube-state-metrics sanitises them).
func allowedNodeLabels(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(observability, "kube-prometheus-stack.values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		KSM struct {
			Allow []string `yaml:"metricLabelsAllowlist"`
		} `yaml:"kube-state-metrics"`
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	invalid := regexp.MustCompile(`[^a-zA-Z0-9_]`)
	for _, entry := range v.KSM.Allow {
		resource, labels, ok := strings.Cut(entry, "=")
		if !ok || resource != "nodes" {
			continue
		}
		for _, l := range strings.Split(strings.Trim(labels, "[]"), ",") {
			if l = strings.TrimSpace(l); l != "" {
				out[l] = "label_" + invalid.ReplaceAllString(l, "_")
			}
		}
	}
	return out
}

// The "Ready pods per availability zone" panel, evaluated by promtool over the series
// kube-state-metrics exports with the values file's allowlist: three nodes in three zones,
// ready and unready pods, and a pod of another namespace. It must count ready pods of the
// service's namespace per zone, with the zone label set.
func TestZonePanelCountsReadyPodsPerZone(t *testing.T) {
	bin := promtool(t)
	const ns = "transaction-validator"
	expr := panelExpr(t, "Ready pods per availability zone", ns)
	allowed := allowedNodeLabels(t)

	nodes := map[string]string{"n1": "eu-central-1a", "n2": "eu-central-1b", "n3": "eu-central-1c"}
	var series []map[string]string
	for _, n := range []string{"n1", "n2", "n3"} {
		// kube_node_labels has a label_* for allowed node labels only.
		labels := fmt.Sprintf(`node=%q,job="kube-state-metrics"`, n)
		if l, ok := allowed["topology.kubernetes.io/zone"]; ok {
			labels += fmt.Sprintf(`,%s=%q`, l, nodes[n])
		}
		series = append(series, map[string]string{"series": "kube_node_labels{" + labels + "}", "values": "1x5"})
	}
	pods := []struct {
		ns, pod, node string
		ready         string // kube_pod_status_ready{condition="true"} samples
	}{
		{ns, "p1", "n1", "1x5"},
		{ns, "p2", "n1", "1x5"},
		{ns, "p3", "n2", "1x5"},
		{ns, "p4", "n3", "0x5"}, // not ready
		{"other", "q1", "n3", "1x5"},
	}
	for _, p := range pods {
		series = append(series,
			map[string]string{"series": fmt.Sprintf(`kube_pod_status_ready{namespace=%q,pod=%q,uid="u-%s",condition="true",job="kube-state-metrics"}`, p.ns, p.pod, p.pod), "values": p.ready},
			map[string]string{"series": fmt.Sprintf(`kube_pod_status_ready{namespace=%q,pod=%q,uid="u-%s",condition="false",job="kube-state-metrics"}`, p.ns, p.pod, p.pod), "values": "0x5"},
			map[string]string{"series": fmt.Sprintf(`kube_pod_info{namespace=%q,pod=%q,uid="u-%s",node=%q,host_ip="10.0.0.1",created_by_kind="ReplicaSet",job="kube-state-metrics"}`, p.ns, p.pod, p.pod, p.node), "values": "1x5"})
	}
	test := map[string]any{
		"rule_files":          []string{},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": series,
			"promql_expr_test": []any{map[string]any{
				"expr":      expr,
				"eval_time": "3m",
				"exp_samples": []any{
					map[string]any{"labels": `{zone="eu-central-1a"}`, "value": 2},
					map[string]any{"labels": `{zone="eu-central-1b"}`, "value": 1},
				},
			}},
		}},
	}
	if out, err := promtoolTest(t, bin, "zone", test); err != nil {
		t.Fatalf("promtool test rules: %v\nexpression: %s\nnode labels allowed by the values file: %v\n%s", err, expr, allowed, out)
	}
}

// The "Top reasons for declines and reviews" panel, evaluated by promtool over the
// validator's txv_validate_reasons_total from two pods and from another namespace: it
// must add the pods up per decision and reason, leave approvals and other namespaces
// out, and keep the decision and reason labels for the legend.
func TestReasonsPanelSumsPodsPerReason(t *testing.T) {
	bin := promtool(t)
	const ns = "transaction-validator"
	expr := strings.ReplaceAll(panelExpr(t, "Top reasons for declines and reviews", ns), "$__rate_interval", "5m")

	var series []map[string]string
	add := func(ns, pod, decision, reason, values string) {
		series = append(series, map[string]string{
			"series": fmt.Sprintf(`txv_validate_reasons_total{namespace=%q,pod=%q,job="transaction-validator",decision=%q,reason=%q}`, ns, pod, decision, reason),
			"values": values,
		})
	}
	// Counters per minute: +60/min is 1 per second.
	add(ns, "a", "decline", "card_number_invalid", "0+60x10")
	add(ns, "b", "decline", "card_number_invalid", "0+120x10")
	add(ns, "a", "review", "merchant_limit_exceeded", "0+30x10")
	add(ns, "b", "decline", "cvv_invalid", "0x10")
	add(ns, "a", "approve", "card_number_invalid", "0+600x10") // not a label value the service uses; must not show
	add("other", "c", "decline", "card_number_invalid", "0+600x10")

	test := map[string]any{
		"rule_files":          []string{},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": series,
			"promql_expr_test": []any{map[string]any{
				"expr":      expr,
				"eval_time": "10m",
				"exp_samples": []any{
					map[string]any{"labels": `{decision="decline",reason="card_number_invalid"}`, "value": 3},
					map[string]any{"labels": `{decision="review",reason="merchant_limit_exceeded"}`, "value": 0.5},
					map[string]any{"labels": `{decision="decline",reason="cvv_invalid"}`, "value": 0},
				},
			}},
		}},
	}
	if out, err := promtoolTest(t, bin, "reasons", test); err != nil {
		t.Fatalf("promtool test rules: %v\nexpression: %s\n%s", err, expr, out)
	}
}

// promtoolTest writes test as NAME.test.yaml in a temporary directory and runs promtool's
// rule tests on it there, returning promtool's output.
func promtoolTest(t *testing.T, bin, name string, test map[string]any) ([]byte, error) {
	t.Helper()
	raw, err := yaml.Marshal(test)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name+".test.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "test", "rules", name+".test.yaml")
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
