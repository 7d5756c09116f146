#!/usr/bin/env bash
# down.sh stops what up.sh started, by PID, and removes what the engine left in the host's
# network namespace (the CNI bridge, its iptables rules and chains, ip_forward), so the host
# is as up.sh found it. The engine's cache ($ENGINE_ROOT) survives for a fast next `up`;
#   down.sh --purge   also deletes it.
# Safe to run when nothing is up.
set -euo pipefail
. "$(dirname "$0")/common.sh"
purge=0; [ "${1:-}" = --purge ] && purge=1

# stop PIDFILE NAME: SIGTERM, then SIGKILL after 30 s, only if the PID still runs NAME.
stop() {
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  if pid_is_ours "$pid" "$2"; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do pid_is_ours "$pid" "$2" || break; sleep 0.2; done
    if pid_is_ours "$pid" "$2"; then log "$2 ($pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid"; sleep 0.5; fi
    log "stopped $2 ($pid)"
  fi
  rm -f "$1"
}

stop "$ENGINE_PIDFILE" dagger-engine

# Containers still running when the engine stops (someone's pipeline, a service) outlive it
# for a while: their runc processes sit in mount namespaces of their own, so the namespace
# sweep below misses them, and they hold veths on the bridge and the buildkit cgroups. They
# are ours by their command line, which names the engine's state dir. Give them 10 s to
# wind down, then kill each one's container (its child, pid 1 of the container's pid
# namespace, which takes the rest of the container with it) and the runc itself.
engine_runcs() {
  local p
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */runc) ;; *) continue ;; esac
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "--log $ENGINE_ROOT/" && echo "${p#/proc/}"
  done
  return 0
}
for _ in $(seq 1 50); do [ -z "$(engine_runcs)" ] && break; sleep 0.2; done
for pid in $(engine_runcs); do
  log "killing container runtime $pid the engine left running, and its container"
  for child in $(pgrep -P "$pid"); do kill -KILL "$child" 2>/dev/null || true; done
  kill -KILL "$pid" 2>/dev/null || true
done

# dnsname's dnsmasq daemons outlive the engine; they are the processes left in the engine's
# mount namespace, which nobody but up.sh created.
if [ -f "$DAGGER_STATE/engine-mntns" ]; then
  ns=$(cat "$DAGGER_STATE/engine-mntns")
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
    log "stopping leftover $(readlink "$p/exe") (${p#/proc/}) from the engine's namespace"
    kill -TERM "${p#/proc/}" 2>/dev/null || true
  done
  sleep 0.5
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
  done
  rm -f "$DAGGER_STATE/engine-mntns"
fi

stop "$REGISTRY_PIDFILE" txv-oci

# Network: the bridge and rules live in the host's network namespace, which the mount
# namespace does not isolate. Remove only what was not there before up.sh.
before=$DAGGER_STATE/host-before
if [ -f "$before" ]; then
  # A container's veth goes when the kernel frees its network namespace, a moment after the
  # last process in it has exited: wait for them (up to 10 s) so the checks below see it.
  new_veths() { ip -o link show 2>/dev/null | awk -F': ' '{print "link " $2}' | sed 's/@.*//' |
    grep -E '^link veth' | grep -vxF -f "$before" || true; }
  for _ in $(seq 1 50); do [ -z "$(new_veths)" ] && break; sleep 0.2; done
  if ip link show "$ENGINE_BRIDGE" >/dev/null 2>&1 && ! grep -qx "link $ENGINE_BRIDGE" "$before"; then
    ip link delete "$ENGINE_BRIDGE" && log "removed bridge $ENGINE_BRIDGE"
  fi
  for t in filter nat mangle; do
    now=$(iptables-save -t "$t" 2>/dev/null | grep -E '^[:-]' | sed -E 's/ \[[0-9]+:[0-9]+\]$//' || true)
    # CNI's rules carry quoted comments; iptables-restore parses them as iptables-save wrote
    # them, which word splitting in bash would not. Rules go first, as they reference chains.
    undo=$(
      grep -E '^-A ' <<<"$now" | tac | while IFS= read -r rule; do
        grep -qxF "iptables $t $rule" "$before" || echo "-D ${rule#-A }"
      done
      # Built-in chains (with a policy instead of "-") go with their table, below. All new
      # chains are flushed before any is deleted, as they may jump to one another.
      new_chains=$(grep -E '^:.* - *$' <<<"$now" | while read -r chain _; do
        grep -q "^iptables $t $chain " "$before" || echo "${chain#:}"
      done)
      for c in $new_chains; do echo "-F $c"; done
      for c in $new_chains; do echo "-X $c"; done
    )
    [ -n "$undo" ] || continue
    printf '*%s\n%s\nCOMMIT\n' "$t" "$undo" | iptables-restore --noflush
    log "iptables -t $t: undid $(grep -c . <<<"$undo") rule/chain changes"
  done
  # Tables iptables-nft created for the engine: removed when nothing else has put rules in
  # them meanwhile (another process on this machine may have started using them).
  nft list tables 2>/dev/null | while read -r _ family table; do
    grep -qxF "nft table $family $table" "$before" && continue
    # Counted, not grep -q: an early exit of grep would fail iptables-save under pipefail.
    used=$(iptables-save -t "$table" 2>/dev/null | grep -cE '^-A |^:.* - *$' || true)
    if [ "${used:-0}" = 0 ]; then
      nft delete table "$family" "$table" && log "removed nf_tables table $family $table"
    fi
  done
  # The CNI bridge plugin turns on forwarding for the whole host.
  if [ -f "$DAGGER_STATE/ip_forward-before" ]; then
    want=$(cat "$DAGGER_STATE/ip_forward-before")
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$want" ] || {
      echo "$want" >/proc/sys/net/ipv4/ip_forward; log "restored net.ipv4.ip_forward=$want"; }
  fi
  # runc removes each container's cgroup but not the parent it created for them.
  # (No cgroup lines is the common case: grep's exit 1 must not end the script.)
  { grep '^cgroup ' <(host_fingerprint) || true; } | while read -r _ dir; do
    grep -qxF "cgroup $dir" "$before" && continue
    if find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null; then log "removed cgroup $dir"; fi
  done
  rm -f "$before" "$DAGGER_STATE/ip_forward-before"
fi

rm -rf "$ENGINE_NS" "$DAGGER_STATE/tmp" "$ENGINE_SOCK" "$DAGGER_STATE/env" "$DAGGER_STATE/client.env"
cache_used "$ENGINE_ROOT"   # airgap/cache-gc.sh: the layer cache was in use until now
[ $purge = 1 ] && { rm -rf "$ENGINE_ROOT" "$DAGGER_STATE"; log "purged $DAGGER_STATE"; }
log "down"
