package kustomize

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// What Prometheus scrapes, and what tells anyone when it cannot. For every ServiceMonitor
// (the service's and the agents' of components/servicemonitor): it selects a Service of
// its namespace that has the endpoint's port, that Service selects a workload whose
// container declares the target port, a NetworkPolicy of a default-deny namespace lets
// monitoring/prometheus reach it, and components/observability has both an absent() and
// an up == 0 alert for its job (the Service's name) in that namespace.

// scraped lists the jobs that must be scraped: namespace/Service.
var scraped = []string{"transaction-validator/transaction-validator", "transaction-validator/operator-console", "logging/fluent-bit", "tracing/otel-collector"}

func checkScrapedWorkloads(m *manifests) (out []string) {
	objs := func(kind string) []map[string]any {
		all := slices.Clone(m.Telemetry[kind])
		all = append(all, m.Custom[kind]...)
		if m.Workloads != nil { // the operator console's ServiceMonitor
			all = append(all, m.Workloads.Custom[kind]...)
		}
		return all
	}
	svcs, deploys := m.Services, m.Deployments
	if m.Workloads != nil {
		svcs = append(slices.Clone(svcs), m.Workloads.Services...)
		deploys = append(slices.Clone(deploys), m.Workloads.Deployments...)
	}
	services := objs("Service")
	for _, s := range svcs {
		services = append(services, map[string]any{
			"metadata": map[string]any{"name": s.Name, "namespace": s.Namespace, "labels": toAny(s.Labels)},
			"spec":     map[string]any{"selector": toAny(s.Spec.Selector), "ports": servicePorts(s.Spec.Ports)},
		})
	}
	workloads := append(objs("DaemonSet"), objs("Deployment")...)
	for _, d := range deploys {
		var ports []any
		for _, c := range d.Spec.Template.Spec.Containers {
			var cp []any
			for _, p := range c.Ports {
				cp = append(cp, map[string]any{"name": p.Name, "containerPort": float64(p.ContainerPort)})
			}
			ports = append(ports, map[string]any{"ports": cp})
		}
		workloads = append(workloads, map[string]any{
			"metadata": map[string]any{"name": d.Name, "namespace": d.Namespace},
			"spec":     map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": toAny(d.Spec.Template.Labels)}, "spec": map[string]any{"containers": ports}}},
		})
	}
	var alerts []string
	for _, pr := range m.Custom["PrometheusRule"] {
		for _, g := range list(path(pr, "spec", "groups")) {
			for _, r := range list(path(g.(map[string]any), "rules")) {
				if rm := r.(map[string]any); str(rm["alert"]) != "" {
					alerts = append(alerts, strings.Join(strings.Fields(str(rm["expr"])), " "))
				}
			}
		}
	}

	var jobs []string
	for _, sm := range objs("ServiceMonitor") {
		ns := str(path(sm, "metadata", "namespace"))
		sel := stringMap(path(sm, "spec", "selector", "matchLabels"))
		for _, ep := range list(path(sm, "spec", "endpoints")) {
			port := str(ep.(map[string]any)["port"])
			svc := findOne(services, ns, func(s map[string]any) bool {
				return selects(sel, stringMap(path(s, "metadata", "labels")))
			})
			if svc == nil {
				errorf(&out, "ServiceMonitor %s/%s selects no Service", ns, str(path(sm, "metadata", "name")))
				continue
			}
			name := str(path(svc, "metadata", "name"))
			jobs = append(jobs, ns+"/"+name)
			var target any
			for _, p := range list(path(svc, "spec", "ports")) {
				if pm := p.(map[string]any); str(pm["name"]) == port {
					target = pm["targetPort"]
				}
			}
			if target == nil {
				errorf(&out, "Service %s/%s has no port %q for its ServiceMonitor", ns, name, port)
				continue
			}
			podSel := stringMap(path(svc, "spec", "selector"))
			w := findOne(workloads, ns, func(w map[string]any) bool {
				return selects(podSel, stringMap(path(w, "spec", "template", "metadata", "labels")))
			})
			if w == nil {
				errorf(&out, "Service %s/%s selects no workload", ns, name)
				continue
			}
			number := ""
			for _, c := range list(path(w, "spec", "template", "spec", "containers")) {
				for _, p := range list(c.(map[string]any)["ports"]) {
					pm := p.(map[string]any)
					if str(pm["name"]) == fmt.Sprint(target) || fmt.Sprint(pm["containerPort"]) == fmt.Sprint(target) {
						number = fmt.Sprint(pm["containerPort"])
					}
				}
			}
			if number == "" {
				errorf(&out, "%s/%s: no container declares the scraped port %v", ns, name, target)
			}
			if ns != namespace && !admitsPrometheus(m.Telemetry["NetworkPolicy"], ns, number) {
				errorf(&out, "%s/%s: a NetworkPolicy denies monitoring/prometheus port %s", ns, name, number)
			}
			sel := fmt.Sprintf(`up{job=%q, namespace=%q}`, name, ns)
			if !slices.Contains(alerts, "absent("+sel+")") {
				errorf(&out, "no alert absent(%s) for %s/%s", sel, ns, name)
			}
			if !slices.Contains(alerts, sel+" == 0") {
				errorf(&out, "no alert %s == 0 for %s/%s", sel, ns, name)
			}
		}
	}
	slices.Sort(jobs)
	if want := slices.Sorted(slices.Values(scraped)); !slices.Equal(jobs, want) {
		errorf(&out, "scraped jobs are %v, want %v", jobs, want)
	}
	return out
}

// admitsPrometheus: in namespace ns, either no NetworkPolicy selects pods (nothing is
// denied) or one admits pods app.kubernetes.io/name=prometheus of namespace monitoring on
// the port.
func admitsPrometheus(policies []map[string]any, ns, port string) bool {
	selected := false
	for _, np := range policies {
		if str(path(np, "metadata", "namespace")) != ns {
			continue
		}
		selected = true
		for _, in := range list(path(np, "spec", "ingress")) {
			im := in.(map[string]any)
			from := false
			for _, f := range list(im["from"]) {
				fm := f.(map[string]any)
				from = from || (stringMap(path(fm, "namespaceSelector", "matchLabels"))["kubernetes.io/metadata.name"] == "monitoring" &&
					stringMap(path(fm, "podSelector", "matchLabels"))["app.kubernetes.io/name"] == "prometheus")
			}
			for _, p := range list(im["ports"]) {
				if from && fmt.Sprint(p.(map[string]any)["port"]) == port {
					return true
				}
			}
		}
	}
	return !selected
}

func findOne(objs []map[string]any, ns string, match func(map[string]any) bool) map[string]any {
	for _, o := range objs {
		if str(path(o, "metadata", "namespace")) == ns && match(o) {
			return o
		}
	}
	return nil
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

func servicePorts(ports []corev1.ServicePort) []any {
	var out []any
	for _, p := range ports {
		out = append(out, map[string]any{"name": p.Name, "port": float64(p.Port), "targetPort": p.TargetPort.String()})
	}
	return out
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestScrapedWorkloadsHaveAlerts(t *testing.T) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			for _, v := range checkScrapedWorkloads(render(t, filepath.Join("overlays", e.name))) {
				t.Error(v)
			}
		})
	}
}

// Each mutation must be caught, or the check above proves nothing.
func TestScrapedWorkloadsRuleCatches(t *testing.T) {
	cases := map[string]func(m *manifests){
		"an agent's ServiceMonitor removed": func(m *manifests) {
			m.Telemetry["ServiceMonitor"] = m.Telemetry["ServiceMonitor"][1:]
		},
		"the collector's metrics port removed from its Service": func(m *manifests) {
			for _, s := range m.Telemetry["Service"] {
				if str(path(s, "metadata", "name")) == "otel-collector" {
					ports := list(path(s, "spec", "ports"))
					s["spec"].(map[string]any)["ports"] = ports[:len(ports)-1]
				}
			}
		},
		"the collector's NetworkPolicy no longer admits Prometheus": func(m *manifests) {
			for _, np := range m.Telemetry["NetworkPolicy"] {
				if str(path(np, "metadata", "name")) == "otel-collector" {
					np["spec"].(map[string]any)["ingress"] = list(path(np, "spec", "ingress"))[:1]
				}
			}
		},
		"Fluent Bit's absent alert removed": func(m *manifests) {
			for _, g := range list(path(m.Custom["PrometheusRule"][0], "spec", "groups")) {
				gm := g.(map[string]any)
				var keep []any
				for _, r := range list(gm["rules"]) {
					if str(r.(map[string]any)["alert"]) != "FluentBitMetricsAbsent" {
						keep = append(keep, r)
					}
				}
				gm["rules"] = keep
			}
		},
		"the validator's down alert matches another job": func(m *manifests) {
			for _, g := range list(path(m.Custom["PrometheusRule"][0], "spec", "groups")) {
				for _, r := range list(g.(map[string]any)["rules"]) {
					rm := r.(map[string]any)
					if str(rm["alert"]) == "TransactionValidatorTargetDown" {
						rm["expr"] = strings.Replace(str(rm["expr"]), `job="transaction-validator"`, `job="validator"`, 1)
					}
				}
			}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := render(t, filepath.Join("overlays", "prod"))
			if v := checkScrapedWorkloads(m); len(v) > 0 {
				t.Fatalf("unmutated: %v", v)
			}
			mutate(m)
			v := checkScrapedWorkloads(m)
			if len(v) == 0 {
				t.Fatal("not caught")
			}
			t.Logf("caught: %v", v)
		})
	}
}
