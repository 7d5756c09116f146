# shellcheck shell=bash
# Sourced by the suites that start a throwaway cluster of their own (scripts/suites/40 and
# 41): a private state dir, a block of free ports, the check counter, the cleanup on exit,
# and the part of the host snapshot both take before and after. Needs scripts/lib.sh (log)
# and K (the airgap/k8s directory).

# ports_free FIRST N: none of the N ports from FIRST has a listener.
ports_free() {
  local p
  for p in $(seq "$1" $(($1 + $2 - 1))); do [ -z "$(ss -Hltn "sport = :$p")" ] || return 1; done
}

# cluster_sandbox N BASE: a private state dir under a new WORK (AIRGAP_STATE, K8S_STATE;
# neither exists yet, so down.sh must remove them again) and the first block of N free ports
# from BASE up (K8S_PORT_BASE, PORTS). The machines are shared and others run clusters from
# these same scripts, so a busy port moves the block instead of failing the suite. On exit
# the cluster goes down, whatever happened, and WORK is removed.
cluster_sandbox() {
  local n=$1 base=$2
  WORK=$(mktemp -d)
  export AIRGAP_STATE=$WORK/airgap-state
  export K8S_STATE=$AIRGAP_STATE/k8s
  until ports_free "$base" "$n"; do
    base=$((base + 10))
    [ "$base" -lt $(($2 + 1000)) ] || { log "no $n free ports between $2 and $(($2 + 1000))"; exit 1; }
  done
  export K8S_PORT_BASE=$base
  PORTS=$(seq "$base" $((base + n - 1)))
  failures=0
  trap cluster_sandbox_cleanup EXIT
}

cluster_sandbox_cleanup() {
  if [ -e "$K8S_STATE" ]; then "$K/down.sh" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}

# check CMD...: runs CMD; a failure is logged and counted in failures, and the suite goes on.
check() { if "$@"; then :; else log "CHECK FAILED: $*"; failures=$((failures + 1)); fi; }

# host_snapshot_ours prints our listeners and the processes that name our private state
# dir, whatever their binary: other clusters on this shared machine (started from these
# same scripts) come and go during the suite and must not count.
host_snapshot_ours() {
  local p
  for p in $PORTS; do ss -Hltn "sport = :$p" | awk -v p="$p" '{print "listener " p " " $4}'; done
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] || [ "${p#/proc/}" = "$BASHPID" ] && continue
    if tr '\0' '\n' 2>/dev/null < "$p/cmdline" | grep -qF -- "$WORK"; then
      echo "process ${p#/proc/} $(readlink "$p/exe" 2>/dev/null)"
    fi
  done
}
