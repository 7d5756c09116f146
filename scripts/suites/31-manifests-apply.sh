#!/usr/bin/env bash
# Suite 31: each overlay in kustomize/overlays goes to a real kube-apiserver (the throwaway
# control plane from airgap/k8s, with kwok fake nodes) the way the deploy job sends it:
#   - the CRDs the manifests use (ExternalSecret, SecretStore, ServiceMonitor, and
#     PrometheusRule for components/observability) are installed
#     from the same module zips the offline schemas come from;
#   - `kubectl apply --server-side` of the rendered overlay: API-server validation, PSA
#     "restricted" admission of the pods the ReplicaSet creates, CRD schema validation;
#   - the Deployment becomes Available, the HPA raises it to its minReplicas (the
#     Deployment itself has no replicas), and the pods land on kwok nodes, spread over the
#     zones, one per node where the overlay demands it;
#   - a second apply is a no-op (nothing fights over field ownership);
#   - the agents of components/tracing and components/logging (own namespaces) roll out.
# Overlays share one namespace name, so they run one after another and each namespace is
# deleted before the next. The cluster is started if needed and stopped again only if this
# suite started it.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
cd "$REPO_ROOT"

if [ ! -x airgap/k8s/up.sh ] || [ ! -x airgap/k8s/down.sh ]; then
  echo "SKIP: airgap/k8s/up.sh and down.sh (throwaway control plane) are not in this checkout"
  exit 3
fi

t0=$(date +%s)
eval "$("$REPO_ROOT/airgap/manifest-tools.sh")"

state=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/k8s
# Leave a cluster someone else started running; stop only one this suite started.
started_here=1
airgap/k8s/status.sh >/dev/null 2>&1 && started_here=0
KUBECONFIG=$(airgap/k8s/up.sh) || die "airgap/k8s/up.sh failed"
export KUBECONFIG
# shellcheck source=/dev/null
. "$state/env"
k() { "$KUBECTL" "$@"; }
log "control plane ready in $(( $(date +%s) - t0 ))s"

ns=transaction-validator
extra_nodes=()
nodes_yaml=$(mktemp "${TMPDIR:-/tmp}/manifests-nodes.XXXXXX")
zero_digest=0000000000000000000000000000000000000000000000000000000000000000
# The cluster-wide agents of components/logging and components/tracing live outside $ns.
agent_ns=(logging tracing)
delete_agents() {
  k delete namespace "${agent_ns[@]}" --ignore-not-found "$@" >/dev/null 2>&1 || true
  k delete clusterrolebinding,clusterrole -l app.kubernetes.io/name=fluent-bit --ignore-not-found >/dev/null 2>&1 || true
}
cleanup() {
  k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  delete_agents --wait=false
  [ ${#extra_nodes[@]} -eq 0 ] || k delete node "${extra_nodes[@]}" --ignore-not-found >/dev/null 2>&1 || true
  if [ $started_here = 1 ]; then airgap/k8s/down.sh >/dev/null 2>&1 || true; fi
  rm -f "$nodes_yaml"
}
trap cleanup EXIT

# prod's HPA floor is 6 with required anti-affinity, and a rollout surges one more: the
# default one kwok node per zone is too few. Add fake nodes (same labels as up.sh's) so
# there are 3 per zone, and remove them afterwards.
for zone in $K8S_ZONES; do
  for i in 1 2 3; do
    n=txv-manifests-$zone-$i
    extra_nodes+=("$n")
    cat >> "$nodes_yaml" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations: {kwok.x-k8s.io/node: fake}
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    topology.kubernetes.io/region: ${zone%[a-z]}
    topology.kubernetes.io/zone: $zone
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
EOF
  done
done
k apply -f "$nodes_yaml" >/dev/null
k wait node "${extra_nodes[@]}" --for=condition=Ready --timeout=60s >/dev/null || die "kwok did not make the extra nodes Ready"

for crd in "$CRD_DIR"/*.yaml; do
  k apply --server-side --force-conflicts -f "$crd" >/dev/null || die "installing CRD $(basename "$crd") failed"
done
k wait crd externalsecrets.external-secrets.io secretstores.external-secrets.io \
  servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com --for=condition=Established --timeout=60s >/dev/null

out=$(mktemp -d "${TMPDIR:-/tmp}/manifests-apply.XXXXXX")
trap 'rm -rf "$out" "$nodes_yaml"; cleanup' EXIT

fail() {
  log "FAIL ($env): $*"
  k get nodes -L topology.kubernetes.io/zone >&2 || true
  log "last kwok log lines:"; tail -n 20 "$state/logs/kwok.log" >&2 2>/dev/null || true
  k -n "$ns" get deploy,rs,hpa,pods -o wide >&2 || true
  k -n "$ns" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
  exit 1
}

# Under load kwok's fake heartbeats can lapse; the node controller then sets every pod's
# Ready condition to False, and once the node is back kwok does not set it True again (its
# pod stages already ran). Such a pod has all containers ready but is not Ready, a state a
# manifest cannot cause. Delete those so the ReplicaSet makes fresh ones, and say so.
reset_stranded_pods() { # [NAMESPACE SELECTOR], default the service's pods
  local stranded rns=${1:-$ns} sel=${2:-app.kubernetes.io/name=transaction-validator}
  stranded=$(k -n "$rns" get pods -l "$sel" -o \
    jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].ready}{"\n"}{end}' |
    awk '$2 == "False" && $3 == "true" {print $1}')
  [ -n "$stranded" ] || return 0
  k wait node --all --for=condition=Ready --timeout=60s >/dev/null || return 0
  log "$env: recreating $(echo "$stranded" | wc -l) $rns pod(s) left unready by a kwok heartbeat lapse"
  # shellcheck disable=SC2086 # one pod name per word
  k -n "$rns" delete pod $stranded --wait=false >/dev/null || true
}

# With example Terraform outputs (example_overlays, scripts/lib.sh): the committed
# overlays carry none.
example_overlays "$out/kustomize" || die "rendering the example Terraform outputs failed"
for d in "$out"/kustomize/overlays/*/; do
  env=$(basename "$d")
  te=$(date +%s)
  "$KUSTOMIZE" build "$d" > "$out/$env.yaml" || die "kustomize build $env failed"
  # kwok fakes node heartbeats; on a starved machine they can lapse, and the node
  # controller then marks every pod unready. Say so instead of blaming the manifests.
  k wait node --all --for=condition=Ready --timeout=90s >/dev/null ||
    fail "kwok nodes are not Ready before applying (fake node heartbeats lapsed; not a manifest problem)"
  # The Namespace goes first so the namespaced objects (and PSA labels) have it.
  k apply --server-side --field-manager=txv-deploy -f "$out/$env.yaml" > "$out/$env.apply.log" 2>&1 ||
    { cat "$out/$env.apply.log" >&2; fail "server-side apply rejected the manifests"; }
  min=$(k -n "$ns" get hpa transaction-validator -o jsonpath='{.spec.minReplicas}')
  # Available with the HPA's minReplicas pods: the HPA controller lifts the Deployment
  # (which has no replicas field) to minReplicas even without a metrics API.
  # One read of the whole status per poll: the rollout is done when the controller has seen
  # the current spec, every pod runs it, all minReplicas are available and the Available
  # condition is True. (Not `rollout status` afterwards: a later heartbeat lapse could
  # flip it back and fail the suite for a reason that has nothing to do with the manifests.)
  end=$((SECONDS + 240))
  want="$(k -n "$ns" get deploy transaction-validator -o jsonpath='{.metadata.generation}') $min $min True"
  until [ "$(k -n "$ns" get deploy transaction-validator -o jsonpath='{.status.observedGeneration} {.status.updatedReplicas} {.status.availableReplicas} {.status.conditions[?(@.type=="Available")].status}')" = "$want" ]; do
    [ $SECONDS -lt $end ] || fail "Deployment did not become Available with the HPA's minReplicas=$min pods"
    reset_stranded_pods
    sleep 3
  done

  nodes=$(k -n "$ns" get pods -l app.kubernetes.io/name=transaction-validator \
    --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')
  count=$(echo "$nodes" | grep -c .)
  [ "$count" -eq "$min" ] || fail "$count running pods, want $min"
  distinct=$(echo "$nodes" | sort -u | grep -c .)
  zones=$(echo "$nodes" | sort -u | while read -r n; do
    [ "$(k get node "$n" -o jsonpath='{.metadata.annotations.kwok\.x-k8s\.io/node}')" = fake ] ||
      { echo "not-kwok:$n"; continue; }
    k get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}'
  done | sort -u)
  echo "$zones" | grep -q '^not-kwok:' && fail "pods on non-kwok nodes: $zones"
  nzones=$(echo "$zones" | grep -c .)
  want_zones=$(( min < 3 ? min : 3 ))
  [ "$nzones" -ge "$want_zones" ] || fail "$min pods span $nzones zones, want $want_zones"
  hard=$(k -n "$ns" get deploy transaction-validator \
    -o jsonpath='{.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution}')
  if [ -n "$hard" ] && [ "$distinct" -ne "$count" ]; then
    fail "required anti-affinity, but $count pods share $distinct nodes"
  fi

  # Re-applying the same manifests must change nothing: in particular no replicas field
  # fighting the HPA, and no field another manager owns.
  gen=$(k -n "$ns" get deploy transaction-validator -o jsonpath='{.metadata.generation}')
  k apply --server-side --field-manager=txv-deploy -f "$out/$env.yaml" >/dev/null ||
    fail "second server-side apply failed (field ownership conflict?)"
  [ "$(k -n "$ns" get deploy transaction-validator -o jsonpath='{.metadata.generation}')" = "$gen" ] ||
    fail "second apply changed the Deployment spec"
  [ "$(k -n "$ns" get deploy transaction-validator -o jsonpath='{.spec.replicas}')" = "$min" ] ||
    fail "second apply changed the replica count the HPA set"

  # The pods above were admitted, so they pass "restricted"; this shows the namespace
  # really enforces it (a pod without the hardening is refused at admission).
  if k -n "$ns" run psa-probe --image="registry.invalid/psa-probe@sha256:$zero_digest" \
      --restart=Never --dry-run=server -o name > "$out/psa.log" 2>&1; then
    fail "a pod without securityContext was admitted: PSA restricted is not enforced"
  fi
  grep -q 'violates PodSecurity "restricted' "$out/psa.log" ||
    { cat "$out/psa.log" >&2; fail "the probe pod was refused, but not by PSA restricted"; }

  # components/operator-console: Available with its HPA's minReplicas, spread over zones.
  # components/fx-rates-etl: a Job from the CronJob's template passes admission (PSA
  # restricted); server-side dry run, since kwok never completes a Job.
  cmin=$(k -n "$ns" get hpa operator-console -o jsonpath='{.spec.minReplicas}')
  end=$((SECONDS + 240))
  cwant="$(k -n "$ns" get deploy operator-console -o jsonpath='{.metadata.generation}') $cmin $cmin True"
  until [ "$(k -n "$ns" get deploy operator-console -o jsonpath='{.status.observedGeneration} {.status.updatedReplicas} {.status.availableReplicas} {.status.conditions[?(@.type=="Available")].status}')" = "$cwant" ]; do
    [ $SECONDS -lt $end ] || fail "operator-console did not become Available with its HPA's minReplicas=$cmin pods"
    reset_stranded_pods "$ns" app.kubernetes.io/name=operator-console
    sleep 3
  done
  czones=$(k -n "$ns" get pods -l app.kubernetes.io/name=operator-console --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | while read -r n; do
      k get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}'
    done | sort -u | grep -c .)
  [ "$czones" -ge "$cmin" ] || fail "operator-console's $cmin pods span $czones zones"
  k -n "$ns" create job fx-rates-etl-admission --from=cronjob/fx-rates-etl --dry-run=server -o name > "$out/etl.log" 2>&1 ||
    { cat "$out/etl.log" >&2; fail "a Job from the fx-rates-etl CronJob was refused at admission"; }

  # The agents were admitted too: the collector under PSA "restricted" in its namespace,
  # Fluent Bit (hostPath) under "privileged" in "logging". Both must roll out.
  # Same kwok heartbeat caveat as above: stranded agent pods are recreated, and said so.
  end=$((SECONDS + 240))
  agents_ready() {
    [ "$(k -n tracing get deploy otel-collector -o jsonpath='{.status.availableReplicas}/{.spec.replicas}')" = 2/2 ] &&
      k -n logging get ds fluent-bit -o jsonpath='{.status.numberReady} {.status.desiredNumberScheduled}' |
        awk '{exit !($2 > 0 && $1 == $2)}'
  }
  until agents_ready; do
    [ $SECONDS -lt $end ] || fail "the OTel collector (2 replicas) or the Fluent Bit DaemonSet (one pod per node) did not become ready"
    reset_stranded_pods tracing app.kubernetes.io/name=otel-collector
    reset_stranded_pods logging app.kubernetes.io/name=fluent-bit
    sleep 3
  done

  log "$env: applied $(grep -c '^kind:' "$out/$env.yaml") objects; $count/$min pods Available on $distinct kwok nodes in $nzones zones; collector and Fluent Bit rolled out ($(( $(date +%s) - te ))s)"

  k delete namespace "$ns" --timeout=120s >/dev/null || fail "namespace deletion did not finish"
  delete_agents --timeout=120s
done

log "manifests-apply suite passed in $(( $(date +%s) - t0 ))s"
