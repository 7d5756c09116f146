# shellcheck shell=bash
# shellcheck disable=SC2034 # a library: the scripts that source it use these variables
# Shared by up.sh, down.sh, status.sh and smoke.sh (and node.sh, which they source next): where the throwaway cluster keeps its
# state, which ports it owns, and how to tell our processes from anyone else's.
#
# Every setting can be overridden from the environment; up.sh writes the values it used to
# $K8S_STATE/env so that down.sh/status.sh act on what was really started even if the
# caller's environment differs.

K8S_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=${REPO_ROOT:-$(cd "$K8S_HERE/../.." && pwd)}
# shellcheck source=../../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

AIRGAP_STATE=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}
K8S_STATE=${K8S_STATE:-$AIRGAP_STATE/k8s}

# What the caller asks for, before the env file of a running cluster says what it has:
# K8S_REAL_NODE=1 wants the real node, 0 wants none, unset takes the cluster as it is.
K8S_REAL_NODE_WANTED=${K8S_REAL_NODE-}

if [ -f "$K8S_STATE/env" ]; then
  # shellcheck source=/dev/null
  . "$K8S_STATE/env"
fi

# Six consecutive loopback ports, away from the usual 6443/2379/10250 range so a developer's
# own cluster (or another suite) is not disturbed.
K8S_PORT_BASE=${K8S_PORT_BASE:-26443}
APISERVER_PORT=$K8S_PORT_BASE
ETCD_CLIENT_PORT=$((K8S_PORT_BASE + 1))
ETCD_PEER_PORT=$((K8S_PORT_BASE + 2))
KCM_PORT=$((K8S_PORT_BASE + 3))
SCHEDULER_PORT=$((K8S_PORT_BASE + 4))
KWOK_PORT=$((K8S_PORT_BASE + 5))
K8S_PORTS="$APISERVER_PORT $ETCD_CLIENT_PORT $ETCD_PEER_PORT $KCM_PORT $SCHEDULER_PORT $KWOK_PORT"

# The real node (node.sh), opt-in: K8S_REAL_NODE=1. On the host it owns one more loopback
# port, the kubelet's forwarder; inside its own network namespace it also uses the next
# five (kubelet healthz, kube-proxy healthz and metrics, CoreDNS health and ready).
K8S_REAL_NODE=${K8S_REAL_NODE:-0}
KUBELET_PORT=$((K8S_PORT_BASE + 6))
if [ "$K8S_REAL_NODE" = 1 ]; then K8S_PORTS="$K8S_PORTS $KUBELET_PORT"; fi
NODE_STATE=$K8S_STATE/node
# "localhost": the apiserver dials a node by its Hostname address first, and this one's
# kubelet is reached through the loopback forwarder.
NODE_NAME=localhost
# Pod addresses of the real node; apart from kwok's fake ones (--cidr 10.244.0.0/16).
NODE_POD_CIDR=10.246.0.0/24
NODE_IP=10.246.0.1
CLUSTER_DNS_IP=10.96.0.10

K8S_BIN=${K8S_BIN:-$CACHE_ROOT/k8s-$KUBERNETES_VERSION/bin}
KWOK_BIN=${KWOK_BIN:-$CACHE_ROOT/kwok-$KWOK_VERSION/bin}
KUBECONFIG_PATH=$K8S_STATE/kubeconfig
# kubectl keeps a discovery/HTTP cache in ~/.kube/cache by default; keeping it in the state
# dir is what lets down.sh leave the home directory as it found it.
export KUBECACHEDIR=$K8S_STATE/kube-cache

# Fake nodes: K8S_NODES_PER_ZONE in each zone of K8S_ZONES, so topologySpreadConstraints on
# topology.kubernetes.io/zone have three domains to spread over, as on a 3-AZ EKS cluster.
K8S_ZONES=${K8S_ZONES:-"us-east-1a us-east-1b us-east-1c"}
K8S_NODES_PER_ZONE=${K8S_NODES_PER_ZONE:-1}

# The label that selects the project's never-ready kwok stage (kwok/pod-never-ready.yaml).
NEVER_READY_LABEL=kwok.txv.io/never-ready

kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# listening_pids_on PORT prints "addr pid" for every TCP listener on PORT (any address).
listeners_on() {
  ss -Hltnp "sport = :$1" 2>/dev/null | awk '{print $4, $NF}'
}

# pid_is_ours PID NAME: true when PID is alive and still runs the binary we started under
# that name. Guards down.sh against a recycled PID that now belongs to someone else.
pid_is_ours() {
  local pid=$1 name=$2 exe
  [ -d "/proc/$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  [ "$(basename "$exe")" = "$name" ] || return 1
  tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF -- "$K8S_STATE"
}

# stray_pids prints PIDs of any process whose command line names our state dir: what is
# left if a pid file was lost. Every component gets a path under $K8S_STATE as an argument.
stray_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    [ "${p#/proc/}" = "$BASHPID" ] && continue
    # 2> first: a process that exits between the glob and the read is not an error.
    # A path argument, as is or after --flag= or a socat address type (UNIX-LISTEN:).
    if tr '\0' '\n' 2>/dev/null < "$p/cmdline" | grep -qE -- "^(--[a-z.-]+=|[A-Z-]+:)?$K8S_STATE(/|$)"; then
      case "$(readlink "$p/exe" 2>/dev/null)" in
        */etcd|*/kube-apiserver|*/kube-controller-manager|*/kube-scheduler|*/kwok) echo "${p#/proc/}" ;;
        */kubelet|*/kube-proxy|*/kube-router|*/coredns|*/containerd|*/containerd-shim-runc-v2|*/socat|*/sleep) echo "${p#/proc/}" ;;
        */postgres|*/redis-check-rdb) echo "${p#/proc/}" ;;
      esac
    fi
  done
}

# lock_cluster: one up.sh/down.sh at a time, or two callers (parallel suites, two people
# in one checkout) would start duplicate servers or delete state under each other. The
# lock is on this directory (opened read-only), so it leaves no file behind; it is held
# until the script exits and passed to the down.sh that up.sh runs itself.
lock_cluster() {
  [ "${K8S_CLUSTER_LOCKED:-}" = "$K8S_STATE" ] && return 0
  exec 8<"$K8S_HERE"
  if ! flock -n 8; then
    log "waiting for another up.sh/down.sh in this checkout to finish"
    flock -w 600 8 || die "timed out waiting for the airgap/k8s lock"
  fi
  export K8S_CLUSTER_LOCKED=$K8S_STATE
}

# shellcheck source=node.sh
. "$K8S_HERE/node.sh"
# shellcheck source=stores.sh
. "$K8S_HERE/stores.sh"
