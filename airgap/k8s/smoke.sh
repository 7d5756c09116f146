#!/usr/bin/env bash
# airgap/k8s/smoke.sh checks that the cluster from up.sh can do what the deploy, canary and
# rollback tests need. Exit 0 only when every check passed.
#
#  1. A Deployment with a zone topologySpreadConstraint becomes Available, and its three
#     pods land in three different zones (the fake nodes' zone labels work).
#  2. A rollout whose new pods carry kwok.txv.io/never-ready=true: those pods go Running
#     but never Ready, `kubectl rollout status` fails with ProgressDeadlineExceeded while
#     the old pods keep serving, and `kubectl rollout undo` brings back a healthy rollout.
#
# Works in a namespace of its own and deletes it afterwards, so it can run repeatedly
# against one cluster.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

[ -f "$KUBECONFIG_PATH" ] || die "no cluster: run airgap/k8s/up.sh first"
NS=txv-smoke-$$
fail() { log "FAIL: $*"; kc -n "$NS" get deploy,rs,pods -o wide >&2 || true; exit 1; }
cleanup() { kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

kc create namespace "$NS" >/dev/null

log "1. Deployment with zone spread becomes Available"
kc -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {matchLabels: {app: web}}
      containers:
      - name: web
        image: registry.invalid/txv/web:smoke   # never pulled: kwok fakes the container
        readinessProbe: {httpGet: {path: /healthz, port: 8080}}
EOF
kc -n "$NS" wait deployment/web --for=condition=Available --timeout=90s >/dev/null ||
  fail "deployment/web did not become Available"
ready=$(kc -n "$NS" get deployment web -o jsonpath='{.status.readyReplicas}')
[ "$ready" = 3 ] || fail "deployment/web has $ready ready replicas, want 3"
zones=$(kc -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' |
  while read -r n; do kc get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}'; done | sort -u | wc -l)
want=$(echo "$K8S_ZONES" | wc -w)
[ "$zones" -eq "$want" ] || fail "web pods span $zones zones, want $want"
log "   ok: 3/3 ready, spread over $zones zones"

log "2. never-ready canary: stays Running/not Ready, rollout fails, undo recovers"
# create, not apply: `rollout undo` warns about a last-applied annotation it cannot update.
kc -n "$NS" create -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: canary
spec:
  replicas: 2
  progressDeadlineSeconds: 10
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers:
      - name: app
        image: registry.invalid/txv/app:v1
EOF
kc -n "$NS" rollout status deployment/canary --timeout=90s >/dev/null || fail "canary v1 did not roll out"

# v2: the label selects the never-ready stage, as a broken release would look.
kc -n "$NS" patch deployment canary --type=strategic -p \
  "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"$NEVER_READY_LABEL\":\"true\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.invalid/txv/app:v2\"}]}}}}" >/dev/null

sel="app=canary,$NEVER_READY_LABEL=true"
end=$((SECONDS + 60))
until [ "$(kc -n "$NS" get pods -l "$sel" -o jsonpath='{.items[0].status.phase}' 2>/dev/null)" = Running ]; do
  [ $SECONDS -lt $end ] || fail "never-ready pod did not reach phase Running"
  sleep 1
done
pod=$(kc -n "$NS" get pods -l "$sel" -o jsonpath='{.items[0].metadata.name}')
# Watch it for a while: "not Ready yet" is not the claim, "never Ready" is.
for _ in $(seq 8); do
  st=$(kc -n "$NS" get pod "$pod" -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.running.startedAt}')
  read -r phase readyc cready started <<<"$st"
  [ "$phase" = Running ] || fail "pod $pod phase $phase, want Running"
  [ "$readyc" = False ] || fail "pod $pod Ready condition '$readyc', want False"
  [ "$cready" = false ] || fail "pod $pod container ready '$cready', want false"
  [ -n "$started" ] || fail "pod $pod container is not in state running"
  sleep 1
done
log "   ok: $pod Running, container started, Ready=False for 8s"

# kwok picks at random among matching stages, so one pod staying unready could be luck if
# kwok's pod-ready stage also matched; four more make a lucky pass a 1-in-32 event.
for i in 1 2 3 4; do
  kc -n "$NS" run "never-ready-$i" --image=registry.invalid/txv/app:v2 --restart=Never \
    --labels="app=bare,$NEVER_READY_LABEL=true" >/dev/null
done
end=$((SECONDS + 60))
until [ "$(kc -n "$NS" get pods -l app=bare -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Running$')" = 4 ]; do
  [ $SECONDS -lt $end ] || fail "bare never-ready pods did not all reach phase Running"
  sleep 1
done
sleep 2
readys=$(kc -n "$NS" get pods -l app=bare -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | sort | uniq -c | xargs)
[ "$readys" = "4 False" ] || fail "bare never-ready pods' Ready conditions: $readys, want 4 False"
log "   ok: 4 bare pods with the label Running and not Ready"

out=$(kc -n "$NS" rollout status deployment/canary --timeout=60s 2>&1) &&
  fail "rollout status of the never-ready release succeeded: $out"
grep -q 'exceeded its progress deadline' <<<"$out" || fail "rollout did not fail on its progress deadline: $out"
reason=$(kc -n "$NS" get deployment canary -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
[ "$reason" = ProgressDeadlineExceeded ] || fail "Progressing reason $reason, want ProgressDeadlineExceeded"
avail=$(kc -n "$NS" get deployment canary -o jsonpath='{.status.availableReplicas}')
[ "$avail" = 2 ] || fail "old pods should keep serving during the failed rollout: $avail available, want 2"
log "   ok: rollout failed with ProgressDeadlineExceeded, 2 old pods still available"

kc -n "$NS" rollout undo deployment/canary >/dev/null
kc -n "$NS" rollout status deployment/canary --timeout=90s >/dev/null || fail "rollout after undo did not complete"
end=$((SECONDS + 60))
until [ -z "$(kc -n "$NS" get pods -l "$sel" -o name 2>/dev/null)" ]; do
  [ $SECONDS -lt $end ] || fail "never-ready pods still exist after undo"
  sleep 1
done
img=$(kc -n "$NS" get deployment canary -o jsonpath='{.spec.template.spec.containers[0].image}')
[ "$img" = registry.invalid/txv/app:v1 ] || fail "after undo the image is $img, want v1"
log "   ok: rollout undo restored v1, never-ready pods gone"
log "smoke test passed"
