package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// kubeconform looks schemas up by file name; a wrong name means "schema not found", which
// -strict turns into a failure, but only for the kind that happens to be misnamed.
func TestFileNameMatchesKubeconform(t *testing.T) {
	for _, c := range []struct {
		g    gvk
		want string
	}{
		{gvk{"apps", "v1", "Deployment"}, "deployment-apps-v1.json"},
		{gvk{"", "v1", "ConfigMap"}, "configmap-v1.json"},
		{gvk{"networking.k8s.io", "v1", "NetworkPolicy"}, "networkpolicy-networking-v1.json"},
		{gvk{"autoscaling", "v2", "HorizontalPodAutoscaler"}, "horizontalpodautoscaler-autoscaling-v2.json"},
	} {
		if got := fileName(c.g); got != c.want {
			t.Errorf("fileName(%v) = %s, want %s", c.g, got, c.want)
		}
	}
}

func TestNormaliseMakesStrictSchemas(t *testing.T) {
	in := map[string]any{
		"type":        "object",
		"description": "dropped",
		"properties": map[string]any{
			"port":   map[string]any{"type": "string", "format": "int-or-string"},
			"cpu":    map[string]any{"type": "string", "format": "quantity"},
			"labels": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			"free": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				"properties": map[string]any{"a": map[string]any{"type": "string"}}},
			"ref": map[string]any{"$ref": "#/definitions/x", "description": "sibling of $ref"},
		},
	}
	got := normalise(in, true).(map[string]any)
	want := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"port":   map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}},
			"cpu":    map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
			"labels": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			"free":   map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "string"}}},
			"ref":    map[string]any{"$ref": "#/definitions/x"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("normalise:\n got %s\nwant %s", g, w)
	}
}

// End to end on a tiny swagger + CRD: files land where kubeconform looks, refs resolve
// inside each file, and a CRD's metadata gets the real ObjectMeta schema.
func TestRunWritesStandaloneSchemas(t *testing.T) {
	dir := t.TempDir()
	meta := map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}
	swagger := map[string]any{"definitions": map[string]any{
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": meta,
		"io.k8s.api.core.v1.ConfigMap": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"metadata": map[string]any{"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
				"data":     map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			},
			"x-kubernetes-group-version-kind": []any{map[string]any{"group": "", "version": "v1", "kind": "ConfigMap"}},
		},
	}}
	for i := 0; i < 60; i++ { // run() refuses a swagger with suspiciously few kinds
		swagger["definitions"].(map[string]any)["x.Kind"+string(rune('A'+i))] = map[string]any{
			"type":                            "object",
			"x-kubernetes-group-version-kind": []any{map[string]any{"group": "x.io", "version": "v1", "kind": "Kind" + string(rune('A'+i))}},
		}
	}
	b, _ := json.Marshal(swagger)
	sw := filepath.Join(dir, "swagger.json")
	crd := filepath.Join(dir, "crd.yaml")
	if err := os.WriteFile(sw, b, 0o644); err != nil {
		t.Fatal(err)
	}
	crdYAML := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: example.io
  names: {kind: Widget}
  versions:
  - name: v1
    served: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          metadata: {type: object}
          spec:
            type: object
            properties:
              size: {type: integer}
`
	if err := os.WriteFile(crd, []byte(crdYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := run(sw, "1.37.2", out, []string{crd}); err != nil {
		t.Fatal(err)
	}
	var cm map[string]any
	readJSON(t, filepath.Join(out, "v1.37.2-standalone-strict", "configmap-v1.json"), &cm)
	if defs, _ := cm["definitions"].(map[string]any); defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] == nil {
		t.Errorf("ConfigMap schema does not carry the ObjectMeta definition it refers to")
	}
	if cm["additionalProperties"] != false {
		t.Errorf("ConfigMap schema is not strict")
	}
	var w map[string]any
	readJSON(t, filepath.Join(out, "crds", "example.io", "widget_v1.json"), &w)
	spec := w["properties"].(map[string]any)["spec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Errorf("CRD spec is not strict: %v", spec)
	}
	if ref := w["properties"].(map[string]any)["metadata"].(map[string]any)["$ref"]; ref != "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" {
		t.Errorf("CRD metadata not validated as ObjectMeta: %v", ref)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
