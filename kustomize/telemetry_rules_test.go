package kustomize

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Rules for what components/observability, components/logging and components/tracing add
// to every overlay: the cluster-wide agents (in m.Telemetry) and the service's alerting
// rules. A table of their own, with their own mutation test, next to rules_test.go's.
var telemetryRules = []rule{
	{"prometheusrule", checkPrometheusRule},
	{"logging-fluent-bit", checkFluentBit},
	{"tracing-otel-collector", checkCollector},
}

func TestTelemetryOverlays(t *testing.T) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) {
			m := render(t, filepath.Join("overlays", e.name))
			for _, r := range telemetryRules {
				t.Run(r.name, func(t *testing.T) {
					for _, v := range r.check(e, m) {
						t.Error(v)
					}
				})
			}
		})
	}
}

// one returns the only telemetry object of kind named name.
func one(m *manifests, kind, name string) map[string]any {
	for _, o := range m.Telemetry[kind] {
		if str(path(o, "metadata", "name")) == name {
			return o
		}
	}
	return nil
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func strs(v any) []string {
	var out []string
	for _, s := range list(v) {
		out = append(out, str(s))
	}
	return out
}

var runbookURL = regexp.MustCompile(`^https://\S+/docs/runbook\.md#[a-z0-9-]+$`)

func checkPrometheusRule(_ env, m *manifests) (out []string) {
	prs := m.Custom["PrometheusRule"]
	if len(prs) != 1 {
		return []string{"want the PrometheusRule of components/observability"}
	}
	if ns := str(path(prs[0], "metadata", "namespace")); ns != namespace {
		errorf(&out, "PrometheusRule must be in namespace %s, is in %q", namespace, ns)
	}
	alerts := 0
	for _, g := range list(path(prs[0], "spec", "groups")) {
		for _, r := range list(path(g.(map[string]any), "rules")) {
			rm := r.(map[string]any)
			if str(rm["alert"]) == "" {
				continue
			}
			alerts++
			if u := str(path(rm, "annotations", "runbook_url")); !runbookURL.MatchString(u) {
				errorf(&out, "alert %s: runbook_url %q is not a docs/runbook.md section", str(rm["alert"]), u)
			}
			if str(path(rm, "labels", "severity")) == "" {
				errorf(&out, "alert %s has no severity label", str(rm["alert"]))
			}
		}
	}
	if alerts == 0 {
		errorf(&out, "PrometheusRule has no alerts")
	}
	return out
}

// hardened checks a container's securityContext the way pod-security does for the
// service, except for the user (Fluent Bit reads root-owned files).
func hardened(name string, c map[string]any, out *[]string) {
	sc, _ := c["securityContext"].(map[string]any)
	if sc == nil {
		errorf(out, "%s: container has no securityContext", name)
		return
	}
	if sc["readOnlyRootFilesystem"] != true {
		errorf(out, "%s: root filesystem must be read-only", name)
	}
	if sc["allowPrivilegeEscalation"] != false {
		errorf(out, "%s: allowPrivilegeEscalation must be false", name)
	}
	if sc["privileged"] == true {
		errorf(out, "%s: must not be privileged", name)
	}
	if !slices.Contains(strs(path(sc, "capabilities", "drop")), "ALL") || len(list(path(sc, "capabilities", "add"))) > 0 {
		errorf(out, "%s: must drop ALL capabilities and add none", name)
	}
	for _, k := range []string{"requests", "limits"} {
		for _, res := range []string{"cpu", "memory"} {
			if str(path(c, "resources", k, res)) == "" {
				errorf(out, "%s: no %s %s", name, res, k)
			}
		}
	}
	if path(c, "resources", "requests", "memory") != path(c, "resources", "limits", "memory") {
		errorf(out, "%s: memory request must equal the limit", name)
	}
}

// pinnedTag: a registry path with an explicit version tag or a digest, never latest.
var pinnedTag = regexp.MustCompile(`^[a-z0-9.\-/]+(:v?[0-9]+\.[0-9]+\.[0-9]+|@sha256:[0-9a-f]{64})$`)

func irsa(m *manifests, ns, name string, out *[]string) {
	for _, sa := range m.Telemetry["ServiceAccount"] {
		if str(path(sa, "metadata", "namespace")) == ns && str(path(sa, "metadata", "name")) == name {
			if arn := str(path(sa, "metadata", "annotations", "eks.amazonaws.com/role-arn")); !iamRoleARN.MatchString(arn) {
				errorf(out, "ServiceAccount %s/%s IRSA annotation %q is not an IAM role ARN", ns, name, arn)
			}
			return
		}
	}
	errorf(out, "no ServiceAccount %s/%s", ns, name)
}

func checkFluentBit(_ env, m *manifests) (out []string) {
	ds := one(m, "DaemonSet", "fluent-bit")
	if ds == nil {
		return []string{"no DaemonSet logging/fluent-bit (components/logging)"}
	}
	ns := one(m, "Namespace", "logging")
	if ns == nil {
		errorf(&out, "no Namespace logging")
	}
	pod, _ := path(ds, "spec", "template", "spec").(map[string]any)
	if str(pod["serviceAccountName"]) != "fluent-bit" {
		errorf(&out, "DaemonSet must run as ServiceAccount fluent-bit")
	}
	irsa(m, "logging", "fluent-bit", &out)
	for _, k := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if pod[k] == true {
			errorf(&out, "fluent-bit must not use %s", k)
		}
	}
	if str(path(pod, "securityContext", "seccompProfile", "type")) != "RuntimeDefault" {
		errorf(&out, "fluent-bit must use seccomp RuntimeDefault")
	}
	tolerates := false
	for _, t := range list(pod["tolerations"]) {
		tm := t.(map[string]any)
		tolerates = tolerates || (str(tm["operator"]) == "Exists" && str(tm["key"]) == "")
	}
	if !tolerates {
		errorf(&out, "fluent-bit must tolerate every taint: a node without it ships no logs")
	}
	// hostPath: read-only /var/log, plus the one writable state directory.
	hostPaths := map[string]string{}
	for _, v := range list(pod["volumes"]) {
		vm := v.(map[string]any)
		if hp := str(path(vm, "hostPath", "path")); hp != "" {
			hostPaths[str(vm["name"])] = hp
		}
	}
	cs := list(pod["containers"])
	if len(cs) != 1 || len(list(pod["initContainers"])) > 0 {
		return append(out, "fluent-bit pod must have exactly one container")
	}
	c := cs[0].(map[string]any)
	if !pinnedTag.MatchString(str(c["image"])) {
		errorf(&out, "fluent-bit image %q is not pinned to a release", str(c["image"]))
	}
	hardened("fluent-bit", c, &out)
	for _, vm := range list(c["volumeMounts"]) {
		mm := vm.(map[string]any)
		hp, ok := hostPaths[str(mm["name"])]
		switch {
		case !ok:
		case hp == "/var/log" && mm["readOnly"] == true:
		case hp == "/var/fluent-bit/state":
		default:
			errorf(&out, "fluent-bit mounts host path %s (readOnly=%v); only /var/log read-only and /var/fluent-bit/state are allowed", hp, mm["readOnly"])
		}
	}
	if len(hostPaths) != 2 {
		errorf(&out, "fluent-bit must have exactly two hostPath volumes, has %v", hostPaths)
	}
	// RBAC: get/list/watch pods and namespaces, bound to this ServiceAccount only.
	if len(m.Telemetry["ClusterRole"]) != 1 || len(m.Telemetry["ClusterRoleBinding"]) != 1 {
		return append(out, "want exactly one ClusterRole and one ClusterRoleBinding (fluent-bit's)")
	}
	for _, r := range list(path(m.Telemetry["ClusterRole"][0], "rules")) {
		rm := r.(map[string]any)
		groups, res, verbs := strs(rm["apiGroups"]), strs(rm["resources"]), strs(rm["verbs"])
		if !slices.Equal(groups, []string{""}) || len(res) == 0 || len(verbs) == 0 {
			errorf(&out, "ClusterRole rule %v is not a core-group rule", rm)
		}
		for _, x := range res {
			if x != "pods" && x != "namespaces" {
				errorf(&out, "ClusterRole grants %s; only pods and namespaces", x)
			}
		}
		for _, v := range verbs {
			if v != "get" && v != "list" && v != "watch" {
				errorf(&out, "ClusterRole grants verb %s; only get, list, watch", v)
			}
		}
	}
	crb := m.Telemetry["ClusterRoleBinding"][0]
	subj := list(path(crb, "subjects"))
	if str(path(crb, "roleRef", "name")) != str(path(m.Telemetry["ClusterRole"][0], "metadata", "name")) || len(subj) != 1 ||
		str(path(subj[0].(map[string]any), "name")) != "fluent-bit" || str(path(subj[0].(map[string]any), "namespace")) != "logging" {
		errorf(&out, "ClusterRoleBinding must bind the ClusterRole to logging/fluent-bit only")
	}
	// The config the DaemonSet mounts carries the pipeline and the filter script.
	cmName := ""
	for _, v := range list(pod["volumes"]) {
		if n := str(path(v.(map[string]any), "configMap", "name")); n != "" {
			cmName = n
		}
	}
	found := false
	for _, cm := range m.Telemetry["ConfigMap"] {
		if str(path(cm, "metadata", "name")) == cmName {
			found = true
			data, _ := cm["data"].(map[string]any)
			if !strings.Contains(str(data["fluent-bit.conf"]), "redact_pan") || !strings.Contains(str(data["redact-pan.lua"]), "function redact_pan") {
				errorf(&out, "ConfigMap %s must carry fluent-bit.conf calling redact_pan and redact-pan.lua", cmName)
			}
		}
	}
	if !found {
		errorf(&out, "DaemonSet's ConfigMap %q is not in the output", cmName)
	}
	return out
}

func checkCollector(_ env, m *manifests) (out []string) {
	d := one(m, "Deployment", "otel-collector")
	if d == nil {
		return []string{"no Deployment tracing/otel-collector (components/tracing)"}
	}
	if ns := one(m, "Namespace", "tracing"); ns == nil || str(path(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce")) != "restricted" {
		errorf(&out, "Namespace tracing must exist and enforce PSA restricted")
	}
	pod, _ := path(d, "spec", "template", "spec").(map[string]any)
	if str(pod["serviceAccountName"]) != "otel-collector" {
		errorf(&out, "collector must run as ServiceAccount otel-collector")
	}
	irsa(m, "tracing", "otel-collector", &out)
	if path(pod, "securityContext", "runAsNonRoot") != true {
		errorf(&out, "collector must run as non-root")
	}
	cs := list(pod["containers"])
	if len(cs) != 1 {
		return append(out, "collector pod must have exactly one container")
	}
	c := cs[0].(map[string]any)
	if !pinnedTag.MatchString(str(c["image"])) {
		errorf(&out, "collector image %q is not pinned to a release", str(c["image"]))
	}
	hardened("otel-collector", c, &out)
	// The app is pointed at the collector's Service, on a port the Service has.
	var svcPort bool
	for _, s := range m.Telemetry["Service"] {
		if str(path(s, "metadata", "name")) != "otel-collector" {
			continue
		}
		for _, p := range list(path(s, "spec", "ports")) {
			svcPort = svcPort || fmt.Sprint(path(p.(map[string]any), "port")) == "4318"
		}
	}
	if !svcPort {
		errorf(&out, "Service tracing/otel-collector must expose OTLP/HTTP 4318")
	}
	if cm, err := appConfig(m); err != nil {
		errorf(&out, "%v", err)
	} else if cm.Data["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://otel-collector.tracing.svc:4318" {
		errorf(&out, "the service's OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's Service, is %q", cm.Data["OTEL_EXPORTER_OTLP_ENDPOINT"])
	}
	// Exports only to X-Ray, and the namespace denies by default.
	var cfg string
	for _, cm := range m.Telemetry["ConfigMap"] {
		if data, _ := cm["data"].(map[string]any); data != nil && data["collector.yaml"] != nil {
			cfg = str(data["collector.yaml"])
		}
	}
	if !regexp.MustCompile(`(?m)^\s+exporters: \[awsxray\]$`).MatchString(cfg) {
		errorf(&out, "the traces pipeline must export to awsxray only")
	}
	deny := false
	for _, np := range m.Telemetry["NetworkPolicy"] {
		sel, _ := path(np, "spec", "podSelector").(map[string]any)
		deny = deny || (str(path(np, "metadata", "namespace")) == "tracing" && len(sel) == 0 &&
			len(list(path(np, "spec", "ingress"))) == 0 && len(list(path(np, "spec", "egress"))) == 0)
	}
	if !deny {
		errorf(&out, "namespace tracing needs a default-deny NetworkPolicy")
	}
	return out
}

// Each telemetry rule can fail: one mutation per rule of the rendered prod overlay, and
// only that rule objects.
func TestTelemetryRulesCatchMutations(t *testing.T) {
	prod := envs[len(envs)-1]
	base, err := build(filepath.Join("overlays", prod.name))
	if err != nil {
		t.Fatal(err)
	}
	container := func(m *manifests, kind, name string) map[string]any {
		return list(path(one(m, kind, name), "spec", "template", "spec", "containers"))[0].(map[string]any)
	}
	cases := []struct {
		rule   string
		mutate func(m *manifests)
	}{
		{"prometheusrule", func(m *manifests) {
			g := list(path(m.Custom["PrometheusRule"][0], "spec", "groups"))[0].(map[string]any)
			for _, r := range list(g["rules"]) {
				if a, ok := r.(map[string]any)["annotations"].(map[string]any); ok {
					delete(a, "runbook_url")
				}
			}
		}},
		{"logging-fluent-bit", func(m *manifests) {
			container(m, "DaemonSet", "fluent-bit")["securityContext"].(map[string]any)["readOnlyRootFilesystem"] = false
		}},
		{"logging-fluent-bit", func(m *manifests) {
			for _, vm := range list(container(m, "DaemonSet", "fluent-bit")["volumeMounts"]) {
				delete(vm.(map[string]any), "readOnly")
			}
		}},
		{"logging-fluent-bit", func(m *manifests) {
			r := list(path(m.Telemetry["ClusterRole"][0], "rules"))[0].(map[string]any)
			r["resources"] = []any{"pods", "secrets"}
		}},
		{"logging-fluent-bit", func(m *manifests) {
			container(m, "DaemonSet", "fluent-bit")["image"] = "cr.fluentbit.io/fluent/fluent-bit:latest"
		}},
		{"tracing-otel-collector", func(m *manifests) {
			container(m, "Deployment", "otel-collector")["securityContext"].(map[string]any)["capabilities"] = map[string]any{"add": []any{"NET_RAW"}}
		}},
		{"tracing-otel-collector", func(m *manifests) {
			appConfigOf(m).Data["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://collector.example.com"
		}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rule] = true
		t.Run(c.rule, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			all := append(slices.Clone(rules), telemetryRules...)
			for _, r := range all {
				if v := r.check(prod, m); len(v) > 0 {
					t.Fatalf("unmutated prod already fails %s: %v", r.name, v)
				}
			}
			c.mutate(m)
			for _, r := range all {
				v := r.check(prod, m)
				switch {
				case r.name == c.rule && len(v) == 0:
					t.Errorf("rule %s did not catch the mutation", c.rule)
				case r.name == c.rule:
					t.Logf("caught: %s", strings.Join(v, "; "))
				case len(v) > 0 && !(c.rule == "tracing-otel-collector" && r.name == "configmap"):
					t.Errorf("mutation for %s also fails %s: %v", c.rule, r.name, v)
				}
			}
		})
	}
	for _, r := range telemetryRules {
		if !covered[r.name] {
			t.Errorf("rule %s has no mutation case", r.name)
		}
	}
}
