#!/usr/bin/env bash
# Suite: the throwaway Kubernetes control plane (airgap/k8s) on this machine, offline; it
# also lints airgap/k8s, airgap/dagger and scripts/ with shellcheck.
#   build (cached in ~/.cache; cold ~25 CPU-min) -> up -> up again (must be a no-op) ->
#   smoke test -> down -> the host must look as it did before: no process of ours, no
#   listener on our ports, the state directory and the parents up.sh created gone, nothing
#   written to ~/.kube, ~/.kwok or /var/run/kubernetes.
# Runs in a private state dir and on its own free ports (first free block from 27443), so a
# cluster someone already has up is neither used nor stopped.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
K=$REPO_ROOT/airgap/k8s
ensure_apt iproute2   # ss, for the port checks and the host snapshot

# shellcheck source=../../airgap/k8s/suite-sandbox.sh
. "$K/suite-sandbox.sh"
cluster_sandbox 6 "${SUITE_K8S_PORT_BASE:-27443}"

# What "the host as it was" means, in observable terms.
snapshot() {
  local p
  host_snapshot_ours
  for p in "$HOME/.kube" "$HOME/.kwok" /var/run/kubernetes "$AIRGAP_STATE"; do
    if [ -e "$p" ]; then find "$p" -printf 'path %p %s\n' 2>/dev/null | sort; else echo "absent $p"; fi
  done
}

# The shell of the air-gap toolchain and of the test harness, linted with the shellcheck
# Debian ships; sourced files are followed relative to each script. A finding fails the
# suite; silence one only with a directive on the line that says why.
ensure_apt shellcheck
log "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): airgap scripts"
check shellcheck -x -P SCRIPTDIR "$REPO_ROOT"/airgap/*.sh "$REPO_ROOT"/airgap/k8s/*.sh "$REPO_ROOT"/airgap/dagger/*.sh \
  "$REPO_ROOT"/airgap/up "$REPO_ROOT"/airgap/down "$REPO_ROOT"/airgap/status "$REPO_ROOT"/airgap/deploy-local \
  "$REPO_ROOT"/scripts/*.sh "$REPO_ROOT"/scripts/suites/*.sh "$REPO_ROOT"/scripts/staged/*.sh

log "ports $K8S_PORT_BASE-$((K8S_PORT_BASE + 5)), state $K8S_STATE"
before=$(snapshot)

t=$SECONDS
log "build (a no-op when ~/.cache has this pin)"
"$K/build.sh" >/dev/null
log "build: $((SECONDS - t))s"

t=$SECONDS
kubeconfig=$("$K/up.sh")
up_secs=$((SECONDS - t))
log "up: ${up_secs}s, kubeconfig $kubeconfig"
check test "$kubeconfig" = "$K8S_STATE/kubeconfig"
check test -f "$K8S_STATE/env"
check "$K/status.sh"

# Only 127.0.0.1 may listen on our ports: a 0.0.0.0 or [::] listener would expose the
# unauthenticated etcd to the network.
for p in $PORTS; do
  addrs=$(ss -Hltn "sport = :$p" | awk '{print $4}')
  check test "$addrs" = "127.0.0.1:$p"
done

pids_before=$(cat "$K8S_STATE/pids")
t=$SECONDS
again=$("$K/up.sh" 2>&1 >/dev/null)
check test $((SECONDS - t)) -lt 15
check grep -q 'already up' <<<"$again"
check test "$(cat "$K8S_STATE/pids")" = "$pids_before"

check "$K/smoke.sh"

t=$SECONDS
check "$K/down.sh"
log "down: $((SECONDS - t))s"
check test ! -e "$AIRGAP_STATE"
set +e; "$K/status.sh" >/dev/null; st=$?; set -e
check test "$st" = 2
# down on a host with nothing up is a successful no-op (CI cleanup steps rely on it).
check "$K/down.sh"

after=$(snapshot)
if [ "$before" != "$after" ]; then
  log "host differs after down:"; diff <(echo "$before") <(echo "$after") >&2 || true
  failures=$((failures + 1))
fi

[ "$failures" = 0 ] || { log "airgap-k8s: $failures checks failed"; exit 1; }
log "airgap-k8s: all checks passed (up ${up_secs}s)"
