#!/usr/bin/env bash
# Suite 51: an aborted release leaves the cluster as it found it (ci/release.go), on the
# offline Dagger engine and a throwaway kwok cluster of its own, the way suite 50 runs
# deploy --env local:
#   1. a good version is deployed: canary, promotion, post-deploy checks; it must promote;
#   2. every abort below changes more than the validator's Deployment (a new ConfigMap
#      from a changed LOG_LEVEL, an HPA ceiling, a NetworkPolicy new in the release) and
#      must come back to a cluster whose objects, normalised (no managedFields,
#      resourceVersion, uid, generation, status, timestamps, Deployment revision), are
#      identical to those before it:
#        a. the canary never becomes Ready (kwok's never-ready stage);
#        b. the canary passes but the stable rollout does not complete (a ResourceQuota
#           leaves room for the canary pod and none for the rollout's surge pod): the
#           "rollout did not complete" branch;
#        c. the rollout completes but a post-deploy check fails (a version that answers a
#           replay without Idempotent-Replayed).
# Timings go to stderr. Needs root (the offline Dagger engine); starts the engine and the
# cluster if they are not running and stops only what it started.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=/dev/null
. "$REPO_ROOT/airgap/dagger/common.sh"
cd "$REPO_ROOT"

skip() { printf '\n!!!!! SKIP 51-release: %s\n\n' "$*"; exit 3; }
[ "$(id -u)" -eq 0 ] || skip "needs root (the offline Dagger engine); run as root"

work=$(mktemp -d "${TMPDIR:-/tmp}/release.XXXXXX")
engine_started=0 cluster_started=0
cleanup() {
  local rc=$?
  [ $cluster_started = 0 ] || K8S_STATE=$work/k8s airgap/k8s/down.sh >/dev/null 2>&1 || true
  [ $engine_started = 0 ] || airgap/dagger/down.sh >/dev/null 2>&1 || true
  if [ $rc != 0 ]; then
    find "$work" -mindepth 1 -maxdepth 1 -type d ! -name k8s -exec rm -rf {} +
    log "suite 51 failed; its logs are kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
step() { log "suite 51: $*"; }
timed() { # NAME CMD...
  local name=$1 t; shift; t=$(date +%s)
  "$@"; local rc=$?
  printf '%-44s %5d s\n' "$name" $(($(date +%s) - t)) >&2
  return $rc
}

airgap/dagger/status.sh >/dev/null 2>&1 || { airgap/dagger/up.sh >&2; engine_started=1; }
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
# dagger CMD...: the CLI, again while the engine cannot load the module because another
# client holds the Go SDK's cache volume (its codegen or the module's constructor fails
# to mount it; nothing of the function has run then), for up to 10 minutes.
dagger_retry() {
  local rc err=$work/dagger.$$.err
  for _ in $(seq 40); do
    rc=0; command dagger "$@" 2>"$err" || rc=$?
    if [ $rc = 0 ] || ! grep -qE "failed to generate code|during module sdk codegen|call constructor: failed to mount" "$err"; then cat "$err" >&2; return $rc; fi
    sleep 15
  done
  cat "$err" >&2; return $rc
}
dc() { dagger_retry --progress=plain call --airgapped "$@"; }
# dc_in DIR ARGS...: dc in the checkout DIR (a copy), as suite 50 does (its dc_in).
dc_in() { local dir=$1; shift; (cd "$dir" && dc "$@"); }

# shellcheck source=../../airgap/k8s/deploy-target.sh
. airgap/k8s/deploy-target.sh
deploy_target "$work/k8s" "${TXV_RELEASE_K8S_PORT:-27643}"
deploy_crds

# seed NAME: a copy of the checkout in $work/NAME (checkout_copy, scripts/lib.sh).
seed() { checkout_copy "$work/$1"; }
# Built once, scanned, signed with the air-gapped key pair (ci/sign.go), as suite 50 does;
# deploy verifies it before anything is read or applied.
eval "$(airgap/sign-tools.sh --key)"
publish() { # SOURCE TAG -> prints the digest reference
  dc_in "$1" sign --repository="$repo" --version="$2" --signing-key="file:$COSIGN_KEY" \
    --signing-password="file:$COSIGN_PASSWORD_FILE" --registry="tcp://$REGISTRY_ADDR" 2>"$work/publish-$2.log" | tail -1 ||
    { tail -30 "$work/publish-$2.log" >&2; die "sign $2 failed"; }
}
deploy() { # SOURCE IMAGE NAME
  timed "deploy --env local: $3" dc_in "$1" deploy --env=local --image="$2" \
    --signed-by="$COSIGN_PUB" --registry="tcp://$REGISTRY_ADDR" \
    --kubeconfig="file:$deployer_kubeconfig" --kube-api="$api" --timeout=60s >"$work/deploy-$3.out" 2>"$work/deploy-$3.log"
}
serving() { k -n "$ns" get deployment transaction-validator -o jsonpath='{.spec.template.spec.containers[0].image}'; }

# objects FILE: every object of the kinds the overlays render, in the namespaces deploy
# writes to, and the cluster-scoped ones, normalised as ci/release.go's normalize does.
kinds=namespaces,clusterroles,clusterrolebindings,configmaps,services,serviceaccounts,deployments,daemonsets
kinds+=,horizontalpodautoscalers,cronjobs,ingresses,networkpolicies,poddisruptionbudgets
kinds+=,externalsecrets,secretstores,prometheusrules,servicemonitors
objects() {
  k get "$kinds" -A -o json | jq -S '[.items[]
    | select((.metadata.namespace // "") as $n | $n == "" or $n == "transaction-validator" or $n == "logging" or $n == "tracing")
    | del(.status, .metadata.managedFields, .metadata.resourceVersion, .metadata.uid, .metadata.generation,
          .metadata.creationTimestamp, .metadata.annotations["deployment.kubernetes.io/revision"])
    | if .metadata.annotations == {} then del(.metadata.annotations) else . end]
    | sort_by(.kind, .metadata.namespace, .metadata.name)' >"$1"
}
# release_changes DIR: a release that changes more than the Deployment: LOG_LEVEL (a new
# ConfigMap name, so a new object and a new pod template), the HPA's ceiling (an object
# changed in place) and a NetworkPolicy that did not exist.
release_changes() {
  local o=$1/kustomize/overlays/dev
  sed -i 's/      - LOG_LEVEL=debug/      - LOG_LEVEL=warn/' "$o/kustomization.yaml"
  sed -i '/path: \/spec\/maxReplicas/{n;s/value: 3/value: 4/}' "$o/kustomization.yaml"
  cat >"$o/seeded-policy.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: seeded-release-policy
  namespace: transaction-validator
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: seeded}}
  policyTypes: [Ingress]
YAML
  sed -i 's/^resources:/resources:\n  - seeded-policy.yaml/' "$o/kustomization.yaml"
  if ! grep -q LOG_LEVEL=warn "$o/kustomization.yaml" || ! grep -q 'value: 4' "$o/kustomization.yaml"; then
    die "could not seed the release's changes"
  fi
}
# add_patch DIR FILE: a JSON6902 patch of the validator's Deployment, first in the dev
# overlay's patches.
add_patch() {
  local kz=$1/kustomize/overlays/dev/kustomization.yaml
  sed -i "/^patches:/a\\  - {path: $2, target: {kind: Deployment, name: transaction-validator}}" "$kz"
}
# aborted NAME REASON: the deploy NAME failed, said REASON, reverted objects outside the
# canary, and the cluster's objects are those of before.
aborted() {
  local name=$1 reason=$2
  grep -q "ROLLED BACK: $reason" "$work/deploy-$name.log" ||
    { tail -40 "$work/deploy-$name.log"; die "$name: no 'ROLLED BACK: $reason' in the deploy log"; }
  for want in "revert: delete ConfigMap $ns/transaction-validator-config-" \
              "revert: delete NetworkPolicy $ns/seeded-release-policy" \
              "revert: replace HorizontalPodAutoscaler $ns/transaction-validator" \
              "release reverted"; do
    grep -qF "$want" "$work/deploy-$name.log" || { tail -40 "$work/deploy-$name.log"; die "$name: the log lacks '$want'"; }
  done
  objects "$work/after-$name.json"
  if ! diff -u "$work/before-$name.json" "$work/after-$name.json" >"$work/diff-$name.txt"; then
    head -60 "$work/diff-$name.txt" >&2
    die "$name: the cluster's objects after the aborted release differ from before it"
  fi
  [ "$(serving)" = "$good" ] || die "$name: the Deployment runs $(serving), want $good"
  [ -z "$(k -n "$ns" get deployment transaction-validator-canary --ignore-not-found -o name)" ] ||
    die "$name: a canary Deployment is left behind"
  step "$name: rolled back, $(jq length "$work/after-$name.json") objects identical to before"
}

# ---- 1. a good version ---------------------------------------------------------------
d=$(seed good)
good=$(publish "$d" release-good)
[[ $good == "$repo@sha256:"* ]] || die "publish printed '$good'"
step "deploy a good version: $good"
deploy "$d" "$good" good || { tail -40 "$work/deploy-good.log"; die "deploying a good version failed"; }
[ "$(serving)" = "$good" ] || die "after deploy the Deployment runs $(serving), want $good"
grep -q "post-deploy checks: postdeploy-check: all 7 checks passed" "$work/deploy-good.out" ||
  { cat "$work/deploy-good.out"; die "the deploy log does not show the post-deploy checks passing"; }
k -n "$ns" rollout status deployment/transaction-validator --timeout=60s >/dev/null

# ---- 2a. canary never Ready ----------------------------------------------------------
step "2a. a release whose canary never becomes Ready"
d=$(seed never-ready)
release_changes "$d"
cat >"$d/kustomize/overlays/dev/seeded-never-ready.yaml" <<'YAML'
- {op: add, path: /spec/template/metadata/labels/kwok.txv.io~1never-ready, value: "true"}
YAML
add_patch "$d" seeded-never-ready.yaml
objects "$work/before-never-ready.json"
if deploy "$d" "$good" never-ready; then die "a never-ready version was deployed"; fi
aborted never-ready "canary never became ready"

# ---- 2b. rollout does not complete ---------------------------------------------------
step "2b. a release whose canary passes and whose rollout does not complete"
d=$(seed rollout-stuck)
release_changes "$d"
# Room for every pod now and the canary's, none for the stable rollout's surge pod
# (maxSurge 1, maxUnavailable 0): the new ReplicaSet is refused its first pod. The count is
# what the quota counts: every pod of the namespace (the console's too) not yet finished,
# once the aborted canary of 2a has gone (a terminating pod holds a slot until it has).
for _ in $(seq 60); do
  [ -z "$(k -n "$ns" get pods -o jsonpath='{.items[?(@.metadata.deletionTimestamp)].metadata.name}')" ] && break
  sleep 1
done
pods=$(k -n "$ns" get pods --field-selector=status.phase!=Succeeded,status.phase!=Failed --no-headers | wc -l)
k -n "$ns" create quota seeded-rollout-stuck --hard=pods=$((pods + 1)) >/dev/null
objects "$work/before-rollout-stuck.json"
if deploy "$d" "$good" rollout-stuck; then die "a release whose rollout cannot complete was deployed"; fi
grep -q "canary healthy" "$work/deploy-rollout-stuck.out" "$work/deploy-rollout-stuck.log" ||
  { tail -30 "$work/deploy-rollout-stuck.log"; die "rollout-stuck: the canary gate did not pass first"; }
aborted rollout-stuck "rollout did not complete"
grep -qF "revert: replace Deployment $ns/transaction-validator" "$work/deploy-rollout-stuck.log" ||
  die "rollout-stuck: the stable Deployment was not put back"
k -n "$ns" delete quota seeded-rollout-stuck >/dev/null

# ---- 2c. a post-deploy check fails ---------------------------------------------------
step "2c. a release whose post-deploy checks fail"
d=$(seed postdeploy-fails)
release_changes "$d"
# A version that answers a replay without saying so: the canary's metrics cannot see it.
grep -q 'Idempotent-Replayed' "$d/svc/internal/validation/transport.go" || die "no Idempotent-Replayed in transport.go"
sed -i 's/"Idempotent-Replayed"/"X-Seeded-Not-Replayed"/' "$d/svc/internal/validation/transport.go"
bad=$(publish "$d" release-postdeploy-fails)
objects "$work/before-postdeploy-fails.json"
if deploy "$d" "$bad" postdeploy-fails; then die "a version failing a post-deploy check was deployed"; fi
grep -q "FAILED idempotent replay" "$work/deploy-postdeploy-fails.log" ||
  { tail -30 "$work/deploy-postdeploy-fails.log"; die "postdeploy-fails: the log does not name the failed check"; }
aborted postdeploy-fails "post-deploy checks failed"

step "all release checks passed"
