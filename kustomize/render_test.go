package kustomize

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// manifests is one rendered overlay, decoded into the API types the rules look at. Kinds
// from CRDs stay generic maps: importing the operators' Go modules for two structs would
// pull in half of their dependency graphs.
type manifests struct {
	raw []byte

	Namespaces      []corev1.Namespace
	Deployments     []appsv1.Deployment
	Services        []corev1.Service
	ConfigMaps      []corev1.ConfigMap
	ServiceAccounts []corev1.ServiceAccount
	PDBs            []policyv1.PodDisruptionBudget
	HPAs            []autoscalingv2.HorizontalPodAutoscaler
	Ingresses       []networkingv1.Ingress
	NetworkPolicies []networkingv1.NetworkPolicy
	// Custom resources by kind (ExternalSecret, SecretStore, ServiceMonitor, PrometheusRule).
	Custom map[string][]map[string]any
	// Telemetry holds, by kind, the cluster-wide agents' objects (components/logging and
	// components/tracing: their namespaces, what is in them, their cluster RBAC). They have
	// their own rules (telemetry_rules_test.go); the rules above are about the service.
	Telemetry map[string][]map[string]any
	// Workloads holds the opt-in workloads' objects (components/operator-console and
	// components/fx-rates-etl, by name prefix), decoded the same way; they have their own
	// rules (workloads_test.go). Nil inside Workloads itself.
	Workloads *manifests
	CronJobs  []batchv1.CronJob
}

// workloadPrefixes name the opt-in workloads: every object of theirs starts with one.
var workloadPrefixes = []string{"operator-console", "fx-rates-etl"}

func workloadObject(name string) bool {
	for _, p := range workloadPrefixes {
		if name == p || strings.HasPrefix(name, p+"-") {
			return true
		}
	}
	return false
}

// telemetryNamespaces are the agents' namespaces, separate from the service's.
var telemetryNamespaces = []string{"logging", "tracing"}

// render builds an overlay exactly as `kustomize build DIR` does (same library, default
// options, load restrictor on) and decodes the result.
func render(t *testing.T, dir string) *manifests {
	t.Helper()
	out, err := build(dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m, err := decode(out)
	if err != nil {
		t.Fatalf("decode %s: %v", dir, err)
	}
	return m
}

// build builds dir; an overlay named by its relative path (overlays/ENV) is built from its
// copy with example Terraform outputs (renderRoot, terraform_outputs_test.go).
func build(dir string) ([]byte, error) {
	if !filepath.IsAbs(dir) && strings.HasPrefix(dir, "overlays"+string(filepath.Separator)) {
		dir = filepath.Join(renderRoot, dir)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return res.AsYaml()
}

// decode is strict: an unknown field in a built-in kind is an error here as it is for
// kubeconform -strict, so a typo cannot make a rule pass by hiding a field from it.
func decode(all []byte) (*manifests, error) {
	m := &manifests{raw: all, Custom: map[string][]map[string]any{}, Telemetry: map[string][]map[string]any{}}
	m.Workloads = &manifests{Custom: map[string][]map[string]any{}}
	err := eachObject(all, func(head object, doc []byte) error {
		if telemetryObject(head.Kind, head.Name, head.Namespace) {
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				return err
			}
			m.Telemetry[head.Kind] = append(m.Telemetry[head.Kind], obj)
			return nil
		}
		dst := m
		if workloadObject(head.Name) {
			dst = m.Workloads
			dst.raw = append(append(dst.raw, doc...), "\n---\n"...)
		}
		return dst.addDoc(head.Kind, doc)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// object names one document of a rendered stream.
type object struct{ Kind, Namespace, Name string }

// eachObject calls fn with the kind, namespace and name of each document in a rendered
// stream, and the document itself; it stops at the first error.
func eachObject(all []byte, fn func(head object, doc []byte) error) error {
	for _, doc := range bytes.Split(all, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return err
		}
		if err := fn(object{head.Kind, head.Metadata.Namespace, head.Metadata.Name}, doc); err != nil {
			return err
		}
	}
	return nil
}

func (m *manifests) addDoc(kind string, doc []byte) error {
	var err error
	switch kind {
	case "Namespace":
		err = add(doc, &m.Namespaces)
	case "Deployment":
		err = add(doc, &m.Deployments)
	case "Service":
		err = add(doc, &m.Services)
	case "ConfigMap":
		err = add(doc, &m.ConfigMaps)
	case "ServiceAccount":
		err = add(doc, &m.ServiceAccounts)
	case "PodDisruptionBudget":
		err = add(doc, &m.PDBs)
	case "HorizontalPodAutoscaler":
		err = add(doc, &m.HPAs)
	case "Ingress":
		err = add(doc, &m.Ingresses)
	case "NetworkPolicy":
		err = add(doc, &m.NetworkPolicies)
	case "CronJob":
		err = add(doc, &m.CronJobs)
	case "ExternalSecret", "SecretStore", "ServiceMonitor", "PrometheusRule":
		var obj map[string]any
		err = yaml.Unmarshal(doc, &obj)
		m.Custom[kind] = append(m.Custom[kind], obj)
	default:
		// A kind nobody wrote a rule for would ship unchecked; make adding one a
		// conscious step (add it above and give it rules).
		return fmt.Errorf("kind %q has no rules in this test suite", kind)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}

// telemetryObject: in an agent's namespace, one of those namespaces, or cluster RBAC (only
// the agents have any).
func telemetryObject(kind, name, ns string) bool {
	switch kind {
	case "Namespace":
		return slices.Contains(telemetryNamespaces, name)
	case "ClusterRole", "ClusterRoleBinding":
		return true
	}
	return slices.Contains(telemetryNamespaces, ns)
}

func add[T any](doc []byte, list *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// path reads a nested field of a custom resource: path(obj, "spec", "target", "name").
func path(obj map[string]any, keys ...string) any {
	var cur any = obj
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
