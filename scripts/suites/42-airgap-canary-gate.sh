#!/usr/bin/env bash
# Suite: the live canary's gate on real pods (airgap/k8s with K8S_REAL_NODE=1), offline.
#   The validator (in-memory stores) as a stable and a canary Deployment behind the
#   Service, under the NetworkPolicies of kustomize/base/networkpolicy.yaml, enforced by
#   kube-router; the gate as a Job of the canary-check binary with the label, arguments
#   and lock-down ci/canary.go gives it (canaryGate.job; ci/canary_test.go pins those):
#   1. a good canary: the gate gets its sample through the Service and passes;
#   2. a canary with the error defect suite 50 seeds (about a third of its requests fail): the gate fails
#      and says the error ratio was the reason;
#   3. a pod without the gate's label cannot reach the canary's metrics (the policy path
#      is the gate's alone);
#   4. a canary whose p99 is over the gate's (one request in eight takes 700 ms): the gate
#      fails and says p99 was the reason;
#   5. a canary whose metrics the gate cannot reach (served on another port): the gate
#      fails and says the metrics were not reachable, instead of passing on the probe alone.
# Bounded: at most 2000 transactions and 90 s of sending per gate run.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
K=$REPO_ROOT/airgap/k8s
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the real node needs root (network and mount namespaces, containerd, runc)"
  exit 3
fi
# shellcheck disable=SC2086 # a space-separated package list
ensure_apt iproute2 $K8S_NODE_APT_PACKAGES

# shellcheck source=../../airgap/k8s/suite-sandbox.sh
. "$K/suite-sandbox.sh"
cluster_sandbox 7 "${SUITE_K8S_PORT_BASE:-32443}"
export K8S_REAL_NODE=1

# The images: the validator as it is, the validator with suite 50's error defect, and
# canary-check; static binaries on an empty base, assembled like the node's test images.
bin=$WORK/bin img=$WORK/images
mkdir -p "$bin" "$img"
t=$SECONDS
(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$bin/" ./svc/cmd/transaction-validator ./svc/cmd/canary-check)
(cd "$REPO_ROOT/airgap/dagger" && go build -mod=readonly -trimpath -o "$bin/txv-oci" ./cmd/txv-oci)
# seeded NAME GO: the validator built with GO's lines run before each decision (its
# endpoint, as suite 50 seeds it), in $bin/NAME/.
seeded() {
  local src=$WORK/src-$1
  mkdir -p "$src" "$bin/$1"
  cp -r "$REPO_ROOT/svc" "$REPO_ROOT/go.mod" "$REPO_ROOT/go.sum" "$src/"
  sed -i "s|return s.Validate(ctx, request.(Request))|$2\\n\\t\\treturn s.Validate(ctx, request.(Request))|" \
    "$src/svc/internal/validation/endpoint.go"
  grep -q "IdempotencyKey" "$src/svc/internal/validation/endpoint.go" || die "could not seed the $1 defect"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin/$1/" ./svc/cmd/transaction-validator)
}
# About a third of the requests fail (the keys' last characters are spread unevenly).
seeded bad 'if k := request.(Request).IdempotencyKey; k[len(k)-1]%4 == 0 {\n\t\t\treturn nil, context.DeadlineExceeded\n\t\t}'
seeded slow 'if k := request.(Request).IdempotencyKey; k[len(k)-1]%8 == 0 {\n\t\t\ttime.Sleep(700 * time.Millisecond)\n\t\t}'
image() { # NAME BINARY: an OCI archive NAME with the binary at /, its command
  local d=$WORK/layer-$1 b; b=$(basename "$2")
  mkdir -p "$d"; cp "$2" "$d/$b"
  tar -C "$d" --numeric-owner --owner=0 --group=0 -cf "$WORK/$1.tar" .
  "$bin/txv-oci" assemble -out "$WORK/$1.oci" -layer "$WORK/$1.tar" -cmd "/$b" -user 65532:65532
  tar -C "$WORK/$1.oci" -cf "$img/$1.tar" .
}
image transaction-validator "$bin/transaction-validator"
image transaction-validator-bad "$bin/bad/transaction-validator"
image transaction-validator-slow "$bin/slow/transaction-validator"
image canary-check "$bin/canary-check"
log "binaries and images: $((SECONDS - t))s"

t=$SECONDS
kubeconfig=$("$K/up.sh")
log "up with the real node: $((SECONDS - t))s"
# shellcheck source=../../airgap/k8s/common.sh
. "$K/common.sh"
k() { "$KUBECTL" --kubeconfig "$kubeconfig" "$@"; }
for i in transaction-validator transaction-validator-bad transaction-validator-slow canary-check; do
  node_ctr images import --index-name "txv.local/$i:suite" "$img/$i.tar" >/dev/null
done

NS=transaction-validator
k create namespace "$NS" >/dev/null
k -n "$NS" apply -f "$REPO_ROOT/kustomize/base/networkpolicy.yaml" -f "$REPO_ROOT/kustomize/base/service.yaml" >/dev/null
# workload NAME IMAGE TRACK-LABEL [ENV]: a Deployment of one validator pod on the real node,
# labelled as the overlays label it (the canary adds track=canary, as deploy.go does); ENV,
# more variables as flow-style entries, each after a comma.
workload() {
  local extra=""
  [ -z "$3" ] || extra=", track: $3"
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: transaction-validator$extra}}
  template:
    metadata: {labels: {app.kubernetes.io/name: transaction-validator$extra}}
    spec:
      nodeSelector: {type: real}
      tolerations: [{key: txv.io/real-node, operator: Exists, effect: NoSchedule}]
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
      - name: transaction-validator
        image: txv.local/$2:suite
        imagePullPolicy: Never
        command: [/transaction-validator, serve]
        env: [{name: MAX_TRANSACTIONS_PER_SECOND, value: "100000"}${4:-}]
        ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 2}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
EOF
}
workload transaction-validator transaction-validator "" | k -n "$NS" apply -f - >/dev/null

# gate RUN: the gate Job as canaryGate.job renders it, against the Service's ClusterIP and
# the canary pods' IPs; prints its log, returns its verdict (0 passed).
gate() {
  local svc pods args="" p job=transaction-validator-canary-gate-$1
  if ! k -n "$NS" rollout status deployment/transaction-validator-canary --timeout=120s >/dev/null; then
    k -n "$NS" get pods -o wide >&2; k -n "$NS" describe pods -l track=canary | tail -30 >&2
    return 2
  fi
  # The replaced canary pod lingers while it terminates; ci/canary.go skips such pods too.
  local end=$((SECONDS + 60))
  while [ "$(k -n "$NS" get pods -l track=canary -o name | wc -l)" != 1 ] && [ $SECONDS -lt $end ]; do sleep 2; done
  svc=$(k -n "$NS" get service transaction-validator -o jsonpath='{.spec.clusterIP}:{.spec.ports[?(@.name=="http")].port}')
  pods=$(k -n "$NS" get pods -l track=canary -o jsonpath='{.items[*].status.podIP}')
  for p in $pods; do args="$args, -canary-metrics-url, http://$p:9090/metrics"; done
  k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: $job, labels: {app.kubernetes.io/name: canary-gate}}
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 150
  template:
    metadata: {labels: {app.kubernetes.io/name: canary-gate}}
    spec:
      restartPolicy: Never
      nodeSelector: {type: real}
      tolerations: [{key: txv.io/real-node, operator: Exists, effect: NoSchedule}]
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: canary-gate
        image: txv.local/canary-check:suite
        imagePullPolicy: Never
        command: [/canary-check]
        args: [-url, "http://$svc", -requests, "2000", -min-requests, "100", -batch, "50", -concurrency, "4", -max-time, 90s$args, -max-error-ratio, "0.01", -max-p99, 500ms]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
EOF
  local end=$((SECONDS + 180)) st
  while :; do
    st=$(k -n "$NS" get job "$job" -o jsonpath='{.status.succeeded}/{.status.failed}')
    case "$st" in 1/*) k -n "$NS" logs "job/$job" 2>&1; return 0 ;; */1) k -n "$NS" logs "job/$job" 2>&1; return 1 ;; esac
    [ $SECONDS -lt $end ] || { log "gate $1 did not finish"; k -n "$NS" describe job "$job" >&2; return 2; }
    sleep 2
  done
}

log "1. a good canary behind the Service: the gate gets its sample and passes"
workload transaction-validator-canary transaction-validator canary | k -n "$NS" apply -f - >/dev/null
k -n "$NS" rollout status deployment/transaction-validator --timeout=120s >/dev/null
set +e; out=$(gate good); rc=$?; set -e
echo "$out" | tail -3 >&2
check test "$rc" = 0
check grep -q 'canary-check: healthy: [0-9]* requests' <<<"$out"

log "2. a canary with the seeded error defect: the gate fails on the error ratio"
workload transaction-validator-canary transaction-validator-bad canary | k -n "$NS" apply -f - >/dev/null
set +e; out=$(gate bad); rc=$?; set -e
echo "$out" | tail -3 >&2
check test "$rc" = 1
check grep -qE 'error ratio [0-9.]+% above 1.00%' <<<"$out"

log "3. only the gate's pods reach the canary's metrics"
# From a namespace without policies, so that only the validator's ingress rules decide
# (and the gate reached the same port in steps 1 and 2).
canary_ip=$(k -n "$NS" get pods -l track=canary -o jsonpath='{.items[0].status.podIP}')
# shellcheck source=/dev/null
. "$K8S_NODE_IMAGES/images.env"
k -n default run outsider --image="$BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --labels=app.kubernetes.io/name=outsider \
  --overrides='{"spec":{"nodeSelector":{"type":"real"},"tolerations":[{"key":"txv.io/real-node","operator":"Exists","effect":"NoSchedule"}],"automountServiceAccountToken":false}}' \
  --command -- sleep 600 >/dev/null
k -n default wait pod outsider --for=condition=Ready --timeout=60s >/dev/null
if k -n default exec outsider -- sh -c "nc -w 3 $canary_ip 9090 </dev/null" >/dev/null 2>&1; then
  log "   CHECK FAILED: a pod without the gate's label reached the canary's metrics"; failures=$((failures + 1))
fi

log "4. a canary whose p99 is over the gate's: the gate fails on p99"
workload transaction-validator-canary transaction-validator-slow canary | k -n "$NS" apply -f - >/dev/null
set +e; out=$(gate slow); rc=$?; set -e
echo "$out" | tail -3 >&2
check test "$rc" = 1
check grep -qE 'p99 [0-9.]+m?s above 500ms' <<<"$out"

log "5. a canary whose metrics the gate cannot reach: the gate fails, naming them"
workload transaction-validator-canary transaction-validator canary ', {name: METRICS_ADDR, value: ":9091"}' |
  k -n "$NS" apply -f - >/dev/null
set +e; out=$(gate no-metrics); rc=$?; set -e
echo "$out" | tail -3 >&2
check test "$rc" = 1
check grep -q 'metrics not reachable' <<<"$out"

t=$SECONDS
check "$K/down.sh"
log "down: $((SECONDS - t))s"
[ "$failures" = 0 ] || { log "airgap-canary-gate: $failures checks failed"; exit 1; }
log "airgap-canary-gate: all checks passed"
