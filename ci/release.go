package main

// A release is everything one deploy applies, and what it takes to undo all of it.
//
// Before the first object is applied, deploy reads every object of the release as it is
// in the cluster (snapshot). When the release is aborted, at any step (canary never Ready
// or unhealthy, a rollout that does not complete, a failed post-deploy check), revert
// compares each object with its snapshot and puts the cluster back:
//
//   - an object that did not exist before the release is deleted;
//   - an object that the release changed is replaced by its snapshot (kubectl replace,
//     guarded by the live resourceVersion so a concurrent writer is not overwritten
//     blindly): the previous revision of the whole object, not only the fields the
//     pipeline applies;
//   - an object that existed before but is gone is created again from its snapshot;
//   - an object the release left as it was is not written.
//
// What counts as "as it was" is normalize: the object without what the API server and
// the controllers keep about it (status, resourceVersion, uid, generation, managedFields,
// timestamps, the Deployment revision counter). The end-to-end test (scripts/staged/
// 51-release.sh, run by hand until it fits CI) diffs the cluster's objects normalised the
// same way before a release and after an aborted one.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"dagger/transaction-validator/internal/dagger"
)

// revertManager is the field manager of revert's writes, so an object's managedFields
// show which fields an aborted release put back.
const revertManager = fieldManager + "-revert"

// objectRef names one object of a release.
type objectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

func (r objectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// workloadKinds run pods: a release's new ones are deleted before anything else is put
// back, so the version being backed out stops serving first.
var workloadKinds = []string{"Deployment", "DaemonSet", "StatefulSet", "CronJob", "Job"}

// refOf reads the identity of one object.
func refOf(obj map[string]any) (objectRef, error) {
	meta, _ := obj["metadata"].(map[string]any)
	r := objectRef{}
	r.APIVersion, _ = obj["apiVersion"].(string)
	r.Kind, _ = obj["kind"].(string)
	if meta != nil {
		r.Namespace, _ = meta["namespace"].(string)
		r.Name, _ = meta["name"].(string)
	}
	if r.APIVersion == "" || r.Kind == "" || r.Name == "" {
		return r, fmt.Errorf("object without apiVersion, kind or metadata.name: %v", r)
	}
	return r, nil
}

// key identifies an object across API versions of the same group (kubectl may answer
// apps/v1 for what was asked as apps/v1, but a List from another reader need not).
func (r objectRef) key() objectRef {
	group, _, found := strings.Cut(r.APIVersion, "/")
	if !found {
		group = ""
	}
	return objectRef{APIVersion: group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// splitDocs splits a multi-document YAML stream into its non-empty documents.
func splitDocs(manifests string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+manifests, "\n---\n") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, strings.TrimPrefix(d, "\n"))
		}
	}
	return docs
}

// refsOf returns the objects of a manifest stream, in order.
func refsOf(manifests string) ([]objectRef, error) {
	var refs []objectRef
	for _, doc := range splitDocs(manifests) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
		if obj == nil {
			continue
		}
		r, err := refOf(obj)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// splitScope separates a rendered stream's cluster-scoped objects from its namespaced
// ones. kustomize sets metadata.namespace on every namespaced object of the overlays (the
// kustomize tests require it) and never on a cluster-scoped one, so an object without one
// is cluster-scoped: Namespaces, the log agent's ClusterRole and ClusterRoleBinding.
func splitScope(manifests string) (cluster, namespaced string, err error) {
	var c, n []string
	for _, doc := range splitDocs(manifests) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return "", "", fmt.Errorf("manifests: %w", err)
		}
		r, err := refOf(obj)
		if err != nil {
			return "", "", err
		}
		if r.Namespace == "" {
			c = append(c, doc)
		} else {
			n = append(n, doc)
		}
	}
	return strings.Join(c, "\n---\n"), strings.Join(n, "\n---\n"), nil
}

// deployedRest is the part of the rendered overlay besides the validator's Deployment
// (rest) that deploy applies to env, and the objects it leaves out. On a real environment
// that is the cluster-scoped ones: the deployer's Roles (kustomize/deployer-rbac) are
// namespaced and cannot grant them, so the cluster admin applies them (the cluster-objects
// function; docs/pipeline.md "Identities"). "local" is the caller's own throwaway cluster,
// reached with its admin kubeconfig: everything is applied.
func deployedRest(env, rest string) (applied string, adminOnly []objectRef, err error) {
	if env == "local" {
		return rest, nil, nil
	}
	cluster, namespaced, err := splitScope(rest)
	if err != nil {
		return "", nil, err
	}
	adminOnly, err = refsOf(cluster)
	return namespaced, adminOnly, err
}

// indexObjects indexes what `kubectl get -o json` printed: a List, or one object.
func indexObjects(out []byte) (map[objectRef]map[string]any, error) {
	idx := map[objectRef]map[string]any{}
	if len(strings.TrimSpace(string(out))) == 0 {
		return idx, nil // --ignore-not-found and nothing found
	}
	var top map[string]any
	if err := json.Unmarshal(out, &top); err != nil {
		return nil, fmt.Errorf("kubectl get -o json: %w", err)
	}
	items := []any{top}
	if list, ok := top["items"].([]any); ok {
		items = list
	}
	for _, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("kubectl get -o json: an item is not an object")
		}
		r, err := refOf(obj)
		if err != nil {
			return nil, err
		}
		idx[r.key()] = obj
	}
	return idx, nil
}

// serverKept are the metadata fields the API server and controllers write about an
// object, not what it says: they change on every write, or count rollouts.
var serverKept = []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}

// controllerAnnotations are annotations a controller maintains: the Deployment controller
// numbers each rollout (an undo is a rollout, so the number only grows), like generation.
var controllerAnnotations = []string{"deployment.kubernetes.io/revision"}

// normalize returns a copy of obj without status and what serverKept and
// controllerAnnotations name: two normalised objects are equal when the object says the
// same thing.
func normalize(obj map[string]any) map[string]any {
	out := deepCopy(obj).(map[string]any)
	delete(out, "status")
	meta, _ := out["metadata"].(map[string]any)
	if meta == nil {
		return out
	}
	for _, f := range serverKept {
		delete(meta, f)
	}
	if ann, ok := meta["annotations"].(map[string]any); ok {
		for _, a := range controllerAnnotations {
			delete(ann, a)
		}
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// sameObject says whether two reads of an object say the same thing.
func sameObject(a, b map[string]any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// revertOp is what revert does to one object.
type revertOp string

const (
	opDelete  revertOp = "delete"  // new in the release
	opReplace revertOp = "replace" // changed by the release: back to its snapshot
	opCreate  revertOp = "create"  // existed before, gone now: created from its snapshot
)

// revertStep is one write of a revert.
type revertStep struct {
	op  revertOp
	ref objectRef
	// doc is the object to write (replace, create): the snapshot, carrying the live
	// resourceVersion for a replace and none for a create.
	doc map[string]any
}

// planRevert returns the writes that take the objects of a release (refs, in the order
// they were applied) from their live state back to before: new workloads deleted first
// (the backed-out version stops serving), then changed and lost objects restored in
// apply order (Namespaces and config before what uses them), then the other new objects
// deleted in reverse apply order (a Namespace last).
func planRevert(refs []objectRef, before, live map[objectRef]map[string]any) []revertStep {
	var first, restore, last []revertStep
	seen := map[objectRef]bool{}
	for _, r := range refs {
		k := r.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		prev, existed := before[k]
		now, exists := live[k]
		switch {
		case !existed && exists:
			s := revertStep{op: opDelete, ref: r}
			if slices.Contains(workloadKinds, r.Kind) {
				first = append(first, s)
			} else {
				last = append([]revertStep{s}, last...)
			}
		case existed && !exists:
			restore = append(restore, revertStep{op: opCreate, ref: r, doc: restorable(prev, "")})
		case existed && exists && !sameObject(prev, now):
			rv, _ := now["metadata"].(map[string]any)["resourceVersion"].(string)
			restore = append(restore, revertStep{op: opReplace, ref: r, doc: restorable(prev, rv)})
		}
	}
	return slices.Concat(first, restore, last)
}

// restorable is a snapshot made writable: no status or server-kept fields but its
// managedFields (an update may set them: field ownership goes back to what it was, the
// restored fields to revertManager), and the live resourceVersion for a replace, so a
// write made to the object since the read fails the replace instead of being lost.
func restorable(snapshot map[string]any, resourceVersion string) map[string]any {
	doc := deepCopy(snapshot).(map[string]any)
	delete(doc, "status")
	meta, _ := doc["metadata"].(map[string]any)
	for _, f := range serverKept {
		if f != "managedFields" {
			delete(meta, f)
		}
	}
	if resourceVersion == "" {
		delete(meta, "managedFields") // a create starts its own history
	} else {
		meta["resourceVersion"] = resourceVersion
	}
	return doc
}

// asStream writes objects as one YAML stream for kubectl -f.
func asStream(objs []map[string]any) (string, error) {
	docs := make([]string, 0, len(objs))
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n"), nil
}

// refDoc is the smallest manifest naming r, for kubectl get/delete -f.
func refDoc(r objectRef) map[string]any {
	meta := map[string]any{"name": r.Name}
	if r.Namespace != "" {
		meta["namespace"] = r.Namespace
	}
	return map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind, "metadata": meta}
}

// release is one deploy's set of objects and their state before it.
type release struct {
	refs   []objectRef
	before map[objectRef]map[string]any
}

// snapshot reads every object of manifests as it is now, before any is applied. A kind
// the cluster does not serve (a CRD not installed) fails here, before anything changed.
func (k *kube) snapshot(ctx context.Context, manifests string) (*release, error) {
	refs, err := refsOf(manifests)
	if err != nil {
		return nil, err
	}
	before, err := k.read(ctx, "snapshot the release's objects", refs)
	if err != nil {
		return nil, err
	}
	return &release{refs: refs, before: before}, nil
}

// read gets the live state of refs; absent ones are absent from the map.
func (k *kube) read(ctx context.Context, step string, refs []objectRef) (map[objectRef]map[string]any, error) {
	objs := make([]map[string]any, len(refs))
	for i, r := range refs {
		objs[i] = refDoc(r)
	}
	stream, err := asStream(objs)
	if err != nil {
		return nil, err
	}
	c := k.c.WithEnvVariable("TXV_NONCE", nonce()).WithNewFile("/run/refs.yaml", stream)
	out, err := stdout(ctx, c, step, append(append([]string{"kubectl"}, k.flags...),
		"get", "-f", "/run/refs.yaml", "-o", "json", "--ignore-not-found")...)
	if err != nil {
		return nil, err
	}
	return indexObjects([]byte(out))
}

// plan returns the writes that take the release's objects from live back to the snapshot.
func (rel *release) plan(live map[objectRef]map[string]any) []revertStep {
	return planRevert(rel.refs, rel.before, live)
}

// revert puts every object of the release back as the snapshot found it (see the top of
// this file), then waits for the restored workloads to roll out.
func (k *kube) revert(ctx context.Context, rel *release, logf func(string, ...any), timeout string) error {
	live, err := k.read(ctx, "read the release's objects", rel.refs)
	if err != nil {
		return err
	}
	steps := rel.plan(live)
	if len(steps) == 0 {
		logf("revert: no object of the release differs from before it")
		return nil
	}
	var errs []string
	for _, s := range steps {
		var err error
		switch s.op {
		case opDelete:
			// Without finalizers an object is gone when the delete returns; a Namespace
			// (local only) first deletes what it holds, which is waited for. Waiting on the
			// others would need list and watch on every kind they are.
			wait := strconv.FormatBool(s.ref.Kind == "Namespace")
			_, err = k.withFile(ctx, "revert: delete "+s.ref.String(), refDoc(s.ref),
				"delete", "-f", "/run/object.yaml", "--ignore-not-found", "--wait="+wait, "--timeout="+timeout)
		case opReplace:
			_, err = k.withFile(ctx, "revert: replace "+s.ref.String(), s.doc,
				"replace", "--field-manager="+revertManager, "-f", "/run/object.yaml")
		case opCreate:
			_, err = k.withFile(ctx, "revert: create "+s.ref.String(), s.doc,
				"create", "--field-manager="+revertManager, "-f", "/run/object.yaml")
		}
		if err != nil {
			// Go on: every object put back is one less left in the aborted release.
			errs = append(errs, err.Error())
			logf("revert: %s %s FAILED", s.op, s.ref)
			continue
		}
		logf("revert: %s %s (%s)", s.op, s.ref, map[revertOp]string{opDelete: "new in this release",
			opReplace: "previous revision restored", opCreate: "deleted since, recreated"}[s.op])
	}
	// The service's Deployments (the validator, the console) are waited for: the
	// deployer's Role may watch Deployments there and nowhere else.
	for _, s := range steps {
		if s.op != opDelete && s.ref.Kind == "Deployment" && s.ref.Namespace == namespace {
			if out, err := k.run(ctx, "revert: rollout of "+s.ref.String(), "-n", s.ref.Namespace, "rollout", "status",
				strings.ToLower(s.ref.Kind)+"/"+s.ref.Name, "--timeout="+timeout); err != nil {
				errs = append(errs, lastLine(out, err))
				continue
			}
			logf("revert: %s rolled back out", s.ref)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("revert incomplete: %s", strings.Join(errs, "; "))
	}
	return nil
}

// withFile runs kubectl on one object written to /run/object.yaml.
func (k *kube) withFile(ctx context.Context, step string, obj map[string]any, args ...string) (string, error) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	c := k.c.WithEnvVariable("TXV_NONCE", nonce()).WithNewFile("/run/object.yaml", string(b))
	return run(ctx, c, step, append(append([]string{"kubectl"}, k.flags...), args...)...)
}

// abortRelease reverts the whole release and returns the error that says why and what
// became of it; the reason leads, as the suites and operators read it.
func (k *kube) abortRelease(ctx context.Context, rel *release, logf func(string, ...any), timeout, reason string) error {
	if err := k.revert(ctx, rel, logf, timeout); err != nil {
		return fmt.Errorf("%s; ROLLBACK FAILED: %v", reason, err)
	}
	logf("release reverted: every object is back to its state before the deploy")
	return fmt.Errorf("ROLLED BACK: %s", reason)
}

// stdout runs args in c and returns what they printed on stdout alone (kubectl's warnings
// go to stderr, and would spoil the JSON read from stdout).
func stdout(ctx context.Context, c *dagger.Container, step string, args ...string) (string, error) {
	out, err := c.WithExec(args).Stdout(ctx)
	if err != nil {
		var exit *dagger.ExecError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("%s: exit status %d\n%s", step, exit.ExitCode, tail(exit.Stdout+exit.Stderr, 40))
		}
		return "", fmt.Errorf("%s: %w", step, err)
	}
	return out, nil
}

// ClusterObjects returns the cluster-scoped objects of an environment, for its admin.
//
// Deploy does not apply them to dev, staging or prod: the Namespaces (with their Pod
// Security labels) and the log agent's ClusterRole and ClusterRoleBinding. No namespaced
// Role can grant them, and a deployer allowed to write them could raise its own rights. The admin (the break-glass role of
// infra/envs/identities.tf) applies them once per environment and after a change to them,
// with the deployer's Roles:
//
//	dagger call cluster-objects --env staging --outputs outputs.json export --path cluster.yaml
//	kubectl apply --server-side -f cluster.yaml
//	kubectl apply --server-side -k kustomize/deployer-rbac
func (m *TransactionValidator) ClusterObjects(
	ctx context.Context,
	// Environment: dev, staging or prod.
	env string,
	// The environment's Terraform outputs (as for deploy).
	outputs *dagger.File,
	// The AWS account id of the environment (as for deploy).
	// +optional
	awsAccount string,
) (*dagger.File, error) {
	if env == "local" {
		return nil, fmt.Errorf("local needs no cluster-objects: deploy --env local applies them itself")
	}
	overlay, err := overlayFor(env)
	if err != nil {
		return nil, err
	}
	tfOutputs, err := m.terraformOutputs(ctx, map[string]*dagger.File{overlay: outputs}, awsAccount)
	if err != nil {
		return nil, fmt.Errorf("cluster-objects %s: %w", env, err)
	}
	// Only the cluster-scoped objects are kept: none of them carries IdP settings.
	manifests, err := m.renderEnv(overlay, tfOutputs, nil, nil).Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", overlay, err)
	}
	cluster, _, err := splitScope(manifests)
	if err != nil {
		return nil, err
	}
	return dag.Directory().WithNewFile("cluster.yaml", cluster+"\n").File("cluster.yaml"), nil
}
