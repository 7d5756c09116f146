// k8sschema writes kubeconform's offline JSON-schema layout from two sources this machine can
// reach without the internet: the Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json
// in the k8s.io/kubernetes module zip) and CustomResourceDefinition YAMLs from operators'
// module zips.
//
//	k8sschema -swagger swagger.json -k8s-version 1.37.2 -out DIR -crd a.yaml -crd b.yaml
//
// Layout written (what kubeconform -strict reads with -schema-location DIR and
// -schema-location 'DIR/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'):
//
//	DIR/v1.37.2-standalone-strict/deployment-apps-v1.json
//	DIR/crds/external-secrets.io/externalsecret_v1.json
//
// Only the strict flavour is written: the project always validates with -strict, and a
// non-strict schema would accept a misspelt field (the mistake we most want to catch).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var crds multiFlag
	swagger := flag.String("swagger", "", "Kubernetes OpenAPI v2 document (swagger.json)")
	version := flag.String("k8s-version", "", "Kubernetes version the swagger belongs to, e.g. 1.37.2")
	out := flag.String("out", "", "output directory")
	flag.Var(&crds, "crd", "CRD YAML file (repeatable; multi-document files are fine)")
	flag.Parse()
	if *swagger == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*swagger, strings.TrimPrefix(*version, "v"), *out, crds); err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
}

func run(swaggerPath, version, out string, crdPaths []string) error {
	raw, err := os.ReadFile(swaggerPath)
	if err != nil {
		return err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", swaggerPath, err)
	}
	if len(doc.Definitions) == 0 {
		return fmt.Errorf("%s has no definitions", swaggerPath)
	}
	defs := map[string]any{}
	for name, d := range doc.Definitions {
		defs[name] = normalise(d, true)
	}

	dir := filepath.Join(out, "v"+version+"-standalone-strict")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	written := 0
	for _, name := range sortedKeys(doc.Definitions) {
		for _, gvk := range gvks(doc.Definitions[name]) {
			root := defs[name].(map[string]any)
			schema := standalone(root, defs)
			if err := writeJSON(filepath.Join(dir, fileName(gvk)), schema); err != nil {
				return err
			}
			written++
		}
	}
	if written < 50 {
		return fmt.Errorf("only %d kinds found in %s; is it really the Kubernetes swagger?", written, swaggerPath)
	}
	fmt.Fprintf(os.Stderr, "k8sschema: %d Kubernetes kinds -> %s\n", written, dir)

	for _, p := range crdPaths {
		n, err := convertCRDs(p, filepath.Join(out, "crds"), defs)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		fmt.Fprintf(os.Stderr, "k8sschema: %d CRD versions from %s\n", n, filepath.Base(p))
	}
	return nil
}

type gvk struct{ Group, Version, Kind string }

func gvks(def map[string]any) []gvk {
	list, _ := def["x-kubernetes-group-version-kind"].([]any)
	var res []gvk
	for _, item := range list {
		m, _ := item.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" {
			res = append(res, gvk{g, v, k})
		}
	}
	return res
}

// fileName reproduces kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json: the lower-cased
// kind, then the first label of the group (none for the core group), then the version.
func fileName(g gvk) string {
	suffix := ""
	if g.Group != "" {
		suffix = "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return strings.ToLower(g.Kind) + suffix + "-" + strings.ToLower(g.Version) + ".json"
}

// standalone returns the root definition with every definition it reaches copied into a local
// "definitions" section. Refs stay refs (instead of being inlined) because the API has
// recursive types (JSONSchemaProps) that cannot be inlined.
func standalone(root map[string]any, defs map[string]any) map[string]any {
	need := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/definitions/")
				if !need[name] {
					need[name] = true
					walk(defs[name])
				}
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(root)
	schema := map[string]any{"$schema": "http://json-schema.org/draft-07/schema#"}
	for k, v := range root {
		schema[k] = v
	}
	if len(need) > 0 {
		d := map[string]any{}
		for name := range need {
			if defs[name] == nil {
				// A dangling ref would make kubeconform fail at validation time with a far
				// less helpful message; this keeps the error where the cause is.
				panic("swagger refers to missing definition " + name)
			}
			d[name] = defs[name]
		}
		schema["definitions"] = d
	}
	return schema
}

// normalise rewrites OpenAPI dialect into JSON Schema that kubeconform's validator
// understands, and closes every object that lists its properties (strict mode).
func normalise(v any, strict bool) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, c := range t {
			switch {
			case k == "x-kubernetes-group-version-kind":
				// keep: harmless, and it documents which kind a file is for
				m[k] = c
			case strings.HasPrefix(k, "x-kubernetes-") && k != "x-kubernetes-preserve-unknown-fields" && k != "x-kubernetes-int-or-string":
				// list/map-type markers and CEL rules have no JSON-Schema meaning
			case k == "format":
				// int32, int-or-string, quantity, byte...: OpenAPI formats, not JSON-Schema
				// ones; the type (fixed up below) is what can be checked offline.
			case k == "description":
				// dropped: it is 70% of the bytes and nobody reads it from these files
			case k == "properties" || k == "patternProperties" || k == "definitions":
				props := map[string]any{}
				for pk, pv := range c.(map[string]any) {
					props[pk] = normalise(pv, strict)
				}
				m[k] = props
			default:
				m[k] = normalise(c, strict)
			}
		}
		if ref, ok := m["$ref"].(string); ok {
			// draft-07 ignores siblings of $ref; keep the ref only.
			return map[string]any{"$ref": ref}
		}
		fmtName, _ := t["format"].(string)
		if fmtName == "int-or-string" || t["x-kubernetes-int-or-string"] == true {
			delete(m, "type")
			delete(m, "x-kubernetes-int-or-string")
			m["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if fmtName == "quantity" {
			// resource.Quantity is a string in JSON but YAML authors write `cpu: 2`.
			delete(m, "type")
			m["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}
		}
		if nullable, _ := m["nullable"].(bool); nullable {
			delete(m, "nullable")
			if typ, ok := m["type"].(string); ok {
				m["type"] = []any{typ, "null"}
			}
		}
		preserve, _ := m["x-kubernetes-preserve-unknown-fields"].(bool)
		delete(m, "x-kubernetes-preserve-unknown-fields")
		if strict && !preserve {
			if _, has := m["properties"]; has {
				if _, set := m["additionalProperties"]; !set {
					m["additionalProperties"] = false
				}
			}
		}
		return m
	case []any:
		res := make([]any, len(t))
		for i, c := range t {
			res[i] = normalise(c, strict)
		}
		return res
	}
	return v
}

func convertCRDs(path, outDir string, defs map[string]any) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, part := range splitYAML(string(raw)) {
		var crd struct {
			Kind string `json:"kind"`
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(part), &crd); err != nil {
			return n, err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			root := normalise(v.Schema.OpenAPIV3Schema, true).(map[string]any)
			props, _ := root["properties"].(map[string]any)
			if props == nil {
				return n, errors.New("CRD schema without properties")
			}
			// CRDs declare metadata as a bare object; validate it like any built-in kind so a
			// typo under metadata is caught here too.
			props["metadata"] = map[string]any{"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
			schema := standalone(root, defs)
			file := filepath.Join(outDir, crd.Spec.Group, strings.ToLower(crd.Spec.Names.Kind)+"_"+v.Name+".json")
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return n, err
			}
			if err := writeJSON(file, schema); err != nil {
				return n, err
			}
			n++
		}
	}
	if n == 0 {
		return 0, errors.New("no served CRD versions found")
	}
	return n, nil
}

func splitYAML(s string) []string {
	var parts []string
	cur := []string{}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " \r") == "---" {
			parts = append(parts, strings.Join(cur, "\n"))
			cur = cur[:0]
			continue
		}
		cur = append(cur, line)
	}
	return append(parts, strings.Join(cur, "\n"))
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
