package main

import (
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// obj parses one YAML object.
func obj(t *testing.T, doc string) map[string]any {
	t.Helper()
	var o map[string]any
	if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func index(t *testing.T, docs ...string) map[objectRef]map[string]any {
	t.Helper()
	idx := map[objectRef]map[string]any{}
	for _, d := range docs {
		o := obj(t, d)
		r, err := refOf(o)
		if err != nil {
			t.Fatal(err)
		}
		idx[r.key()] = o
	}
	return idx
}

const (
	configBefore = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: txv, resourceVersion: "10", uid: u1, creationTimestamp: "2026-01-01T00:00:00Z",
  managedFields: [{manager: txv-pipeline, operation: Apply}]}
data: {LOG_LEVEL: info}`
	configAfter = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: txv, resourceVersion: "20", uid: u1, creationTimestamp: "2026-01-01T00:00:00Z",
  managedFields: [{manager: txv-pipeline, operation: Apply}], labels: {added: "by-release"}}
data: {LOG_LEVEL: debug}`
	// The Service is read twice with different server-kept fields and status: unchanged.
	serviceBefore = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: txv, resourceVersion: "11", uid: u2, generation: 1}
spec: {ports: [{port: 80}]}`
	serviceAfter = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: txv, resourceVersion: "31", uid: u2, generation: 1, managedFields: [{manager: x}]}
spec: {ports: [{port: 80}]}
status: {loadBalancer: {}}`
	stableBefore = `apiVersion: apps/v1
kind: Deployment
metadata: {name: transaction-validator, namespace: txv, resourceVersion: "12", uid: u3, generation: 4,
  annotations: {deployment.kubernetes.io/revision: "2", team: payments}}
spec: {template: {spec: {containers: [{name: app, image: "r/txv@sha256:old"}]}}}
status: {replicas: 3}`
	stableAfter = `apiVersion: apps/v1
kind: Deployment
metadata: {name: transaction-validator, namespace: txv, resourceVersion: "40", uid: u3, generation: 5,
  annotations: {deployment.kubernetes.io/revision: "3", team: payments}}
spec: {template: {spec: {containers: [{name: app, image: "r/txv@sha256:new"}]}}}
status: {replicas: 4}`
	canaryNew = `apiVersion: apps/v1
kind: Deployment
metadata: {name: transaction-validator-canary, namespace: txv, resourceVersion: "41", uid: u4}
spec: {replicas: 1}`
	configNew = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings-7f9c, namespace: txv, resourceVersion: "21", uid: u5}
data: {LOG_LEVEL: debug}`
	policyBefore = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: txv, resourceVersion: "13", uid: u6, managedFields: [{manager: txv-pipeline}]}
spec: {podSelector: {}}`
	namespaceNew = `apiVersion: v1
kind: Namespace
metadata: {name: tracing, resourceVersion: "5", uid: u7}`
)

func refsOfDocs(t *testing.T, docs ...string) []objectRef {
	t.Helper()
	refs, err := refsOf(strings.Join(docs, "\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// TestPlanRevertPutsEveryObjectBack: a release that added, changed and (by someone else's
// hand) deleted objects is planned back to the snapshot, in an order that stops the new
// version first and deletes a Namespace last, without touching what it left unchanged.
func TestPlanRevertPutsEveryObjectBack(t *testing.T) {
	// Apply order: Namespace, config (old and new), Service, policy, canary, stable.
	refs := refsOfDocs(t, namespaceNew, configBefore, configNew, serviceBefore, policyBefore, canaryNew, stableBefore)
	before := index(t, configBefore, serviceBefore, policyBefore, stableBefore)
	live := index(t, namespaceNew, configAfter, configNew, serviceAfter, canaryNew, stableAfter)

	steps := planRevert(refs, before, live)
	var got []string
	for _, s := range steps {
		got = append(got, string(s.op)+" "+s.ref.String())
	}
	want := []string{
		"delete Deployment txv/transaction-validator-canary",
		"replace ConfigMap txv/settings",
		"create NetworkPolicy txv/deny",
		"replace Deployment txv/transaction-validator",
		"delete ConfigMap txv/settings-7f9c",
		"delete Namespace tracing",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// A replace writes the snapshot under the live resourceVersion (optimistic
	// concurrency), with the snapshot's field ownership, and no status.
	cm := steps[1].doc
	meta := cm["metadata"].(map[string]any)
	if meta["resourceVersion"] != "20" {
		t.Errorf("replace carries resourceVersion %v, want the live 20", meta["resourceVersion"])
	}
	if _, ok := meta["labels"]; ok || cm["data"].(map[string]any)["LOG_LEVEL"] != "info" {
		t.Errorf("replace is not the snapshot: %v", cm)
	}
	if meta["managedFields"] == nil {
		t.Error("replace dropped the snapshot's managedFields")
	}
	if _, ok := steps[3].doc["status"]; ok {
		t.Error("replace carries a status")
	}
	// A create starts over: no resourceVersion, uid or managedFields of the old object.
	for _, f := range []string{"resourceVersion", "uid", "managedFields"} {
		if _, ok := steps[2].doc["metadata"].(map[string]any)[f]; ok {
			t.Errorf("create carries metadata.%s", f)
		}
	}

	// Carried out on the live state, the plan gives back the snapshot.
	after := map[objectRef]map[string]any{}
	for k, v := range live {
		after[k] = v
	}
	for _, s := range steps {
		switch s.op {
		case opDelete:
			delete(after, s.ref.key())
		default:
			after[s.ref.key()] = s.doc
		}
	}
	if len(after) != len(before) {
		t.Fatalf("after the revert %d objects, before %d", len(after), len(before))
	}
	for k, b := range before {
		if !sameObject(b, after[k]) {
			t.Errorf("%v after the revert:\n%v\nbefore:\n%v", k, normalize(after[k]), normalize(b))
		}
	}
	if again := planRevert(refs, before, after); len(again) != 0 {
		t.Errorf("a reverted release plans more writes: %v", again)
	}
}

// TestPlanRevertOfAnUntouchedRelease: nothing applied yet (or everything equal) is no write.
func TestPlanRevertOfAnUntouchedRelease(t *testing.T) {
	refs := refsOfDocs(t, configBefore, serviceBefore, canaryNew)
	before := index(t, configBefore, serviceBefore)
	if steps := planRevert(refs, before, index(t, configBefore, serviceAfter)); len(steps) != 0 {
		t.Errorf("plan for an untouched release: %v", steps)
	}
}

// TestNormalizeKeepsWhatTheObjectSays: normalize drops what the server and controllers
// keep, nothing an object's author wrote, and leaves its input alone.
func TestNormalizeKeepsWhatTheObjectSays(t *testing.T) {
	in := obj(t, stableBefore)
	n := normalize(in)
	meta := n["metadata"].(map[string]any)
	for _, f := range []string{"resourceVersion", "uid", "generation"} {
		if _, ok := meta[f]; ok {
			t.Errorf("normalize kept metadata.%s", f)
		}
	}
	if _, ok := n["status"]; ok {
		t.Error("normalize kept status")
	}
	ann := meta["annotations"].(map[string]any)
	if _, ok := ann["deployment.kubernetes.io/revision"]; ok || ann["team"] != "payments" {
		t.Errorf("annotations after normalize: %v", ann)
	}
	if !reflect.DeepEqual(in, obj(t, stableBefore)) {
		t.Error("normalize changed its input")
	}
	if sameObject(obj(t, stableBefore), obj(t, stableAfter)) {
		t.Error("a new image is the same object")
	}
	if !sameObject(obj(t, serviceBefore), obj(t, serviceAfter)) {
		t.Error("server-kept fields and status make a different object")
	}
}

func TestIndexObjects(t *testing.T) {
	list := `{"apiVersion":"v1","kind":"List","items":[
	  {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n"}},
	  {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","namespace":"n"}}]}`
	idx, err := indexObjects([]byte(list))
	if err != nil || len(idx) != 2 {
		t.Fatalf("list: %v %v", idx, err)
	}
	one, err := indexObjects([]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}`))
	if err != nil || one[objectRef{Kind: "Namespace", Name: "n"}] == nil {
		t.Fatalf("one object: %v %v", one, err)
	}
	if none, err := indexObjects([]byte("\n")); err != nil || len(none) != 0 {
		t.Fatalf("nothing found: %v %v", none, err)
	}
	if _, err := indexObjects([]byte(`{"items":[{"kind":"ConfigMap"}]}`)); err == nil {
		t.Error("an item without identity was accepted")
	}
	if _, err := indexObjects([]byte(`Warning: x`)); err == nil {
		t.Error("non-JSON was accepted")
	}
}

// TestDeployLeavesClusterObjectsToTheAdminButOnLocal: a real environment's deploy applies
// only namespaced objects; local (the caller's admin kubeconfig) applies everything.
func TestDeployLeavesClusterObjectsToTheAdminButOnLocal(t *testing.T) {
	rest, _, err := splitDeployment(rendered)
	if err != nil {
		t.Fatal(err)
	}
	local, skipped, err := deployedRest("local", rest)
	if err != nil || local != rest || len(skipped) != 0 {
		t.Fatalf("local: %v %v\n%s", skipped, err, local)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		applied, skipped, err := deployedRest(env, rest)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(applied, "kind: Namespace") || !strings.Contains(applied, "kind: Service") {
			t.Errorf("%s applies:\n%s", env, applied)
		}
		if len(skipped) != 1 || skipped[0].Kind != "Namespace" {
			t.Errorf("%s leaves to the admin %v, want the Namespace", env, skipped)
		}
	}
}
