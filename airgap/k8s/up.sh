#!/usr/bin/env bash
# airgap/k8s/up.sh starts a throwaway Kubernetes control plane with kwok fake nodes, on
# 127.0.0.1 only, and prints the kubeconfig path (the only thing it writes to stdout).
#
#   KUBECONFIG=$(airgap/k8s/up.sh)            # or, after it ran:
#   . "${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/k8s/env"   # KUBECONFIG, K8S_BIN, ...
#
# Idempotent: when the cluster in $K8S_STATE is already healthy it only prints the path;
# when a previous one is half dead it is torn down (down.sh) and started again. Builds the
# binaries first if the cache lacks them (build.sh). Stop with down.sh.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

healthy() {
  [ -f "$K8S_STATE/pids" ] || return 1
  local pid name
  while read -r pid name; do pid_is_ours "$pid" "$name" || return 1; done < "$K8S_STATE/pids"
  [ "$(kc get --raw /readyz 2>/dev/null)" = ok ] || return 1
  curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz" >/dev/null 2>&1 || return 1
  # A cluster started without the real node is not what K8S_REAL_NODE=1 asks for, and the
  # other way round; either way up.sh starts it again as asked.
  local has; has=$(cat "$K8S_STATE/real-node" 2>/dev/null)
  [ -z "$K8S_REAL_NODE_WANTED" ] || [ "$has" = "$K8S_REAL_NODE_WANTED" ] || return 1
  [ "$has" = 1 ] || return 0
  node_status >/dev/null
}

# start NAME ARGS...: runs the binary detached in its own session (so the caller's Ctrl-C or
# exit does not take the cluster down), logs to logs/NAME.log, records the real PID.
# fd 8 is the cluster lock (common.sh): a server that inherited it would hold the lock for
# its whole life and every later down.sh would wait for it forever.
start() {
  local name=$1; shift
  local bin=$K8S_BIN/$name; [ "$name" = kwok ] && bin=$KWOK_BIN/kwok
  start_cmd "$name" "$bin" "$@"
}

# start_cmd NAME CMD...: start's engine, for commands that reach the binary NAME through
# exec (nsenter into the real node's namespaces, unshare). A second process of one name
# (socat) gets its own pid and log file, NAME-2 and so on.
start_cmd() {
  local name=$1 tag=$1 i=1; shift
  while [ -e "$K8S_STATE/run/$tag.pid" ]; do i=$((i + 1)); tag=$name-$i; done
  # shellcheck disable=SC2016 # $$ must expand in the child, which then execs the binary.
  setsid bash -c 'echo $$ > "$0.pid"; exec "$@"' "$K8S_STATE/run/$tag" "$@" \
    > "$K8S_STATE/logs/$tag.log" 2>&1 < /dev/null 8<&- 9<&- &
  local i pid=""
  for i in $(seq 200); do
    [ -s "$K8S_STATE/run/$tag.pid" ] && pid=$(cat "$K8S_STATE/run/$tag.pid")
    # Record the PID only once it has exec'd into the binary, so the liveness checks that
    # compare /proc/PID/exe with the name never see the short-lived bash wrapper.
    [ -n "$pid" ] && pid_is_ours "$pid" "$name" && break
    sleep 0.05
  done
  [ -n "$pid" ] || die "$name did not start"
  echo "$pid $name" >> "$K8S_STATE/pids"
}

# log_of PID: the log file of the process start_cmd started as PID.
log_of() {
  local f
  for f in "$K8S_STATE"/run/*.pid; do
    [ "$(cat "$f")" = "$1" ] && { f=${f##*/}; echo "$K8S_STATE/logs/${f%.pid}.log"; return; }
  done
}

# wait_for WHAT SECONDS CMD...: polls CMD, and on timeout shows the last log lines of every
# component, because "timed out" alone never says which one fell over.
wait_for() {
  # --log=NAME: the component the wait is about; on a timeout its log comes last and longer,
  # next to the error, where a CI report that shows only a run's tail still has it.
  local focus=""
  case $1 in --log=*) focus=${1#--log=}; shift ;; esac
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then
      local f; for f in "$K8S_STATE"/logs/*.log; do
        [ "$(basename "$f" .log)" = "$focus" ] || { log "--- $f"; tail -n 15 "$f" >&2; }
      done
      [ -z "$focus" ] || { log "--- $K8S_STATE/logs/$focus.log"; tail -n 40 "$K8S_STATE/logs/$focus.log" >&2; }
      die "timed out after ${secs}s waiting for $what"
    fi
    local pid name
    while read -r pid name; do
      pid_is_ours "$pid" "$name" || { log "--- $name ($pid) exited:"; tail -n 30 "$(log_of "$pid")" >&2; die "$name died while waiting for $what"; }
    done < "$K8S_STATE/pids"
    sleep 0.5
  done
}

make_pki() {
  local p=$K8S_STATE/pki
  mkdir -p "$p"; chmod 700 "$p"
  ( cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=txv-airgap-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    # The apiserver is only ever dialled on the loopback; the service names are there for
    # in-cluster clients that kwok fakes never run, but tools validate them anyway.
    sign() {  # sign NAME SUBJ EXTFILE-CONTENT
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%b' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n"
    # system:masters: a throwaway cluster for tests, so one admin identity for the
    # operator, the controller-manager, the scheduler and kwok keeps it small.
    sign admin "/O=system:masters/CN=txv-airgap-admin" "extendedKeyUsage=clientAuth\n"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  cat > "$KUBECONFIG_PATH" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: txv-airgap
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $p/ca.crt
users:
- name: admin
  user:
    client-certificate: $p/admin.crt
    client-key: $p/admin.key
contexts:
- name: txv-airgap
  context: {cluster: txv-airgap, user: admin, namespace: default}
current-context: txv-airgap
EOF
  chmod 600 "$KUBECONFIG_PATH"
}

# kwok's stock "fast" stages plus ours: rendered with kubectl's built-in kustomize from
# kwok's own module source, so the stages always match the pinned kwok.
render_kwok_config() {
  local src dir=$K8S_STATE/kwok
  src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$src/kustomize/stage/fast" ] || die "kwok $KWOK_VERSION source has no kustomize/stage/fast"
  mkdir -p "$dir"
  # kustomize refuses absolute paths to bases, so work on a copy.
  cp -r "$src/kustomize/stage" "$dir/stage"; chmod -R u+w "$dir/stage"
  cp "$K8S_HERE/kwok/pod-never-ready.yaml" "$K8S_HERE/kwok/pod-ready-skip-never-ready.yaml" "$dir/"
  cat > "$dir/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- stage/fast
- pod-never-ready.yaml
patches:
- path: pod-ready-skip-never-ready.yaml
  target:
    kind: Stage
    name: pod-ready
EOF
  "$K8S_BIN/kubectl" kustomize "$dir" > "$dir/stages.yaml"
  grep -q 'name: pod-running-never-ready' "$dir/stages.yaml" || die "never-ready stage missing from $dir/stages.yaml"
}

create_nodes() {
  local zone i n region
  for zone in $K8S_ZONES; do
    region=${zone%[a-z]}
    for i in $(seq "$K8S_NODES_PER_ZONE"); do
      n=kwok-$zone-$i
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    node.kubernetes.io/instance-type: m6i.large
    topology.kubernetes.io/region: $region
    topology.kubernetes.io/zone: $zone
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
EOF
    done
  done | kc apply -f - >/dev/null
}

main() {
  lock_cluster
  # curl and ss (iproute2) are used by the health and port checks from the start.
  ensure_apt openssl curl iproute2
  if healthy; then
    log "cluster in $K8S_STATE already up"
    echo "$KUBECONFIG_PATH"; return 0
  fi
  if [ -e "$K8S_STATE" ]; then
    log "stale or half-started cluster state in $K8S_STATE: tearing it down first"
    "$K8S_HERE/down.sh"
  fi

  # From here on, what the caller asked for (down.sh above acted on what was running).
  K8S_REAL_NODE=${K8S_REAL_NODE_WANTED:-0}; export K8S_REAL_NODE
  K8S_PORTS="$APISERVER_PORT $ETCD_CLIENT_PORT $ETCD_PEER_PORT $KCM_PORT $SCHEDULER_PORT $KWOK_PORT"
  if [ "$K8S_REAL_NODE" = 1 ]; then K8S_PORTS="$K8S_PORTS $KUBELET_PORT"; fi
  local port l
  for port in $K8S_PORTS; do
    l=$(listeners_on "$port")
    [ -z "$l" ] || die "port $port is already in use by: $l (set K8S_PORT_BASE to move the cluster)"
  done

  local envs; envs=$("$K8S_HERE/build.sh")
  eval "$envs"

  local t0=$SECONDS
  started=1
  # Remember the first directory we create, so down.sh can remove exactly what we added.
  local top=$K8S_STATE
  while [ ! -e "$(dirname "$top")" ]; do top=$(dirname "$top"); done
  mkdir -p "$K8S_STATE/logs" "$K8S_STATE/run" "$KUBECACHEDIR"
  chmod 700 "$K8S_STATE"
  echo "$top" > "$K8S_STATE/created-root"
  : > "$K8S_STATE/pids"
  cat > "$K8S_STATE/env" <<EOF
# Written by airgap/k8s/up.sh; source it to talk to the throwaway cluster.
export KUBECONFIG=$KUBECONFIG_PATH
export KUBECACHEDIR=$KUBECACHEDIR
export K8S_BIN=$K8S_BIN
export KWOK_BIN=$KWOK_BIN
export K8S_PORT_BASE=$K8S_PORT_BASE
export K8S_ZONES="$K8S_ZONES"
export K8S_NODES_PER_ZONE=$K8S_NODES_PER_ZONE
export KUBECTL=$K8S_BIN/kubectl
export K8S_REAL_NODE=$K8S_REAL_NODE
EOF
  if [ "$K8S_REAL_NODE" = 1 ]; then
    cat >> "$K8S_STATE/env" <<EOF
export K8S_NODE_BIN=$K8S_NODE_BIN
export COREDNS_BIN=$COREDNS_BIN
export KUBE_ROUTER_BIN=$KUBE_ROUTER_BIN
export K8S_NODE_IMAGES=$K8S_NODE_IMAGES
EOF
  fi
  echo "$K8S_REAL_NODE" > "$K8S_STATE/real-node"
  make_pki
  local p=$K8S_STATE/pki

  # fsync off: the data is thrown away, and fsync on a busy shared disk makes etcd slow
  # enough to fail apiserver health checks.
  start etcd --name txv-airgap --data-dir "$K8S_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "txv-airgap=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648

  # --cert-dir: its default is /var/run/kubernetes, which would be written on the host.
  # --endpoint-reconciler-type=none: the reconciler would publish the advertise address
  # (127.0.0.1) as the "kubernetes" Service's endpoint, which endpoint validation rejects
  # for loopback addresses; nothing here routes ClusterIPs anyway.
  start kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --cert-dir "$K8S_STATE/run/apiserver-certs" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type none \
    --kubelet-preferred-address-types Hostname,InternalIP,ExternalIP \
    --kubelet-client-certificate "$p/admin.crt" --kubelet-client-key "$p/admin.key"
  # shellcheck disable=SC2016 # expanded by the inner bash, with kubectl's arguments as $@
  wait_for "kube-apiserver /readyz" 120 bash -c '[ "$("$@" get --raw /readyz)" = ok ]' _ \
    "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH"
  log "kube-apiserver ready after $((SECONDS - t0))s"

  local common=(--kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH"
    --authorization-kubeconfig "$KUBECONFIG_PATH" --bind-address 127.0.0.1 --leader-elect=false)
  # nodeipam off: kwok fakes pod IPs itself, nodes need no podCIDR.
  start kube-controller-manager "${common[@]}" --secure-port "$KCM_PORT" \
    --cert-dir "$K8S_STATE/run/kcm-certs" \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" \
    --use-service-account-credentials=false --controllers '*,-nodeipam' \
    --node-monitor-grace-period=10m
  # The grace period: kwok's fake nodes heartbeat from one process, which a loaded 2-core
  # machine (a Dagger pipeline next to it) can starve for the default 50 s. The node
  # controller then marks every pod NotReady and kwok never sets them Ready again, a
  # state no manifest can cause. A fake node does not fail, so its silence is not news.
  start kube-scheduler "${common[@]}" --secure-port "$SCHEDULER_PORT" \
    --cert-dir "$K8S_STATE/run/scheduler-certs"

  render_kwok_config
  # HOME points into the state dir because kwok also loads ~/.kwok/kwok.yaml when it
  # exists, which would mix a developer's own stages into ours.
  HOME=$K8S_STATE/kwok start kwok --kubeconfig "$KUBECONFIG_PATH" \
    --config "$K8S_STATE/kwok/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 --cidr 10.244.0.0/16 \
    --server-address "127.0.0.1:$KWOK_PORT"

  wait_for "kwok /healthz" 60 curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz"
  create_nodes
  wait_for "fake nodes Ready" 90 kc wait node -l type=kwok --for=condition=Ready --timeout=5s
  # Pods are rejected until the serviceaccount controller made the default ServiceAccount.
  wait_for "default ServiceAccount" 90 kc -n default get serviceaccount default
  wait_for "healthy controller-manager" 30 curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
  wait_for "healthy scheduler" 30 curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"
  log "cluster usable after $((SECONDS - t0))s: $(kc get nodes --no-headers | wc -l) fake nodes in zones: $K8S_ZONES"
  if [ "$K8S_REAL_NODE" = 1 ]; then
    node_up
    log "real node $NODE_NAME ready after $((SECONDS - t0))s"
    stores_up
  fi
  echo "$KUBECONFIG_PATH"
}

# A failed start would leave half a cluster running; tear it down unless asked to keep it
# for a post-mortem (the logs are printed by wait_for before this runs).
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ] && [ "${started:-0}" = 1 ] && [ "${K8S_KEEP_ON_FAILURE:-0}" != 1 ]; then
    log "up failed (exit $rc): running down.sh (K8S_KEEP_ON_FAILURE=1 keeps the state)"
    "$K8S_HERE/down.sh" >&2 || true
  fi
}
trap on_exit EXIT

main "$@"
