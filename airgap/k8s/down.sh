#!/usr/bin/env bash
# airgap/k8s/down.sh stops the throwaway cluster started by up.sh and leaves the host as it
# was before up.sh: our processes stopped (by PID, never by name: other people's clusters
# may run the same binaries), our ports free, the state directory gone.
#
# Safe to run when nothing is up. Exits non-zero if anything of ours survives, so a test
# can trust "down succeeded" to mean "clean".
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

# stop PID: SIGTERM, up to 15s to exit, then SIGKILL. One at a time, in reverse start
# order: kwok and the controllers first, etcd last. Signalling all at once left
# kube-apiserver hanging in shutdown against an etcd that was already gone.
stop() {
  local pid=$1 end=$((SECONDS + 15))
  kill -TERM "$pid" 2>/dev/null || return 0
  while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ]; do
    # A zombie child of ours is gone for every practical purpose.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    log "pid $pid still running 15s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    end=$((SECONDS + 10))
    while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.1; done
  fi
}

main() {
  lock_cluster
  local pids=() pid name had_state=0
  [ -e "$K8S_STATE" ] && had_state=1
  if [ -f "$K8S_STATE/pids" ]; then
    while read -r pid name; do
      if pid_is_ours "$pid" "$name"; then pids=("$pid" "${pids[@]}"); fi
    done < "$K8S_STATE/pids"
  fi
  # Processes whose PID file was lost (e.g. up.sh killed mid-start) still name the state
  # dir on their command line.
  local extra
  for extra in $(stray_pids); do
    [[ " ${pids[*]} " == *" $extra "* ]] || pids+=("$extra")
  done

  # The real node's containers go through containerd first (node.sh).
  node_teardown
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping ${#pids[@]} processes: ${pids[*]}"
    for pid in "${pids[@]}"; do stop "$pid"; done
  fi

  # The stores' data dir is outside the state dir (stores.sh), so it goes by itself.
  stores_remove

  local fail=0
  for pid in $(stray_pids); do log "process $pid still running: $(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-120)"; fail=1; done
  local port l
  for port in $K8S_PORTS; do
    l=$(listeners_on "$port")
    [ -z "$l" ] || { log "port $port still has a listener: $l"; fail=1; }
  done

  local left
  left=$(node_leftovers)
  [ -z "$left" ] || { log "the real node left behind:"; echo "$left" >&2; fail=1; }

  if [ -e "$K8S_STATE" ]; then
    local top=$K8S_STATE
    [ -f "$K8S_STATE/created-root" ] && top=$(cat "$K8S_STATE/created-root")
    rm -rf "$K8S_STATE"
    # Remove the parents up.sh created, but only while empty: the air-gap state root is
    # shared with the other air-gapped services.
    local d
    d=$(dirname "$K8S_STATE")
    case "$top" in
      "$K8S_STATE") ;;
      *) while [ "${#d}" -ge "${#top}" ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done ;;
    esac
  fi
  [ ! -e "$K8S_STATE" ] || { log "could not remove $K8S_STATE"; fail=1; }

  [ $fail = 0 ] || die "the cluster did not go away cleanly (see above)"
  if [ ${#pids[@]} -gt 0 ] || [ "$had_state" = 1 ]; then
    log "cluster down; state $K8S_STATE removed"
  else
    log "no cluster in $K8S_STATE: nothing to stop"
  fi
}

main "$@"
