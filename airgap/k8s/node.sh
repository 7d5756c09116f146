# shellcheck shell=bash
# airgap/k8s/node.sh: the throwaway cluster's real node (K8S_REAL_NODE=1), sourced by up.sh,
# down.sh and status.sh after common.sh.
#
# One node named "localhost" beside the kwok fake nodes: containerd + runc + the CNI bridge
# (Debian), kubelet and kube-proxy (the control plane's release, node/go.mod), CoreDNS and
# kube-router's NetworkPolicy firewall (module proxy). All of it runs in a network and mount
# namespace of its own (node-ns.sh); the only things on the host side are two loopback
# forwarders (socat over unix sockets in the state dir):
#
#   node ns 127.0.0.1:APISERVER_PORT -> apiserver.sock -> host 127.0.0.1:APISERVER_PORT
#   host 127.0.0.1:KUBELET_PORT      -> kubelet.sock   -> node ns 127.0.0.1:KUBELET_PORT
#
# so the node's components find the apiserver where the kubeconfig says, and the apiserver
# reaches the kubelet (logs, exec) at the node's Hostname address, "localhost".
#
# The node is tainted txv.io/real-node=true:NoSchedule: manifests written for the kwok nodes
# keep landing there (their images exist nowhere), and a pod comes here only when it
# tolerates the taint (and selects type=real).

# run_in_node CMD...: runs CMD in the node's namespaces.
run_in_node() {
  nsenter -t "$(cat "$NODE_STATE/holder.pid")" -n -m -- "$@"
}

node_ctr() { ctr -a "$NODE_STATE/containerd.sock" -n k8s.io "$@"; }

# node_pki: one identity per component, each with only the rights it needs: kubelet as
# system:node:localhost (the Node authorizer), kube-proxy as system:kube-proxy (the
# built-in system:node-proxier role), CoreDNS and kube-router with their own ClusterRoles.
node_pki() {
  local p=$K8S_STATE/pki n
  ( cd "$p" || exit 1
    sign() {  # sign NAME SUBJ EXTFILE-CONTENT
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%b' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth\n"
    sign kubelet-serving "/CN=$NODE_NAME" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$NODE_IP\nextendedKeyUsage=serverAuth\n"
    sign kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth\n"
    sign coredns "/CN=txv:coredns" "extendedKeyUsage=clientAuth\n"
    sign kube-router "/CN=txv:kube-router" "extendedKeyUsage=clientAuth\n"
  )
  for n in kubelet kube-proxy coredns kube-router; do
    cat > "$NODE_STATE/$n.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: txv-airgap
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$p/ca.crt"}
users:
- name: $n
  user: {client-certificate: "$p/$n.crt", client-key: "$p/$n.key"}
contexts:
- name: $n
  context: {cluster: txv-airgap, user: $n}
current-context: $n
EOF
    chmod 600 "$NODE_STATE/$n.kubeconfig"
  done
}

# node_cluster_objects: RBAC of CoreDNS and kube-router (read-only: what their informers
# watch), and the kube-dns Service. The Service has no selector: CoreDNS runs as a node
# process on the node's address, and an EndpointSlice of ours points the ClusterIP there,
# so pods resolve through kube-proxy's NAT exactly as through a CoreDNS Deployment.
node_cluster_objects() {
  kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "txv:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "txv:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "txv:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "txv:coredns"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "txv:kube-router"}
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "txv:kube-router"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "txv:kube-router"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "txv:kube-router"}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $CLUSTER_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: txv-airgap}
addressType: IPv4
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
  nodeName: $NODE_NAME
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF
}

write_node_configs() {
  local p=$K8S_STATE/pki n=$NODE_STATE
  mkdir -p "$n/cni/net.d" "$n/kubelet" "$n/containerd"
  # containerd 1.6 from Debian; every path in the state dir. restrict_oom_score_adj: these
  # machines deny CAP_SYS_RESOURCE, so runc may not set the -998 kubelet asks for pause.
  # The opt plugin is off because it would create /opt/containerd on the host.
  cat > "$n/containerd.toml" <<EOF
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$n/containerd.sock"
[ttrpc]
  address = "$n/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$n/cni/net.d"
EOF
  cat > "$n/cni/net.d/10-txv-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "txv-node",
  "plugins": [{
    "type": "bridge",
    "bridge": "txv-cni0",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": "$n/cni/ipam"
    }
  }]
}
EOF
  # cgroup v1 on these machines: failCgroupV1 false. cgroupsPerQOS false: the QoS cgroup
  # tree would need the root cgroups that this sandbox does not give. Webhook authn/authz:
  # the apiserver's client certificate is checked against the cluster CA, its rights
  # against RBAC.
  cat > "$n/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((KUBELET_PORT + 1))
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$p/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$p/kubelet-serving.crt"
tlsPrivateKeyFile: "$p/kubelet-serving.key"
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: "unix://$n/containerd.sock"
imageServiceEndpoint: "unix://$n/containerd.sock"
clusterDNS: ["$CLUSTER_DNS_IP"]
clusterDomain: cluster.local
resolvConf: ""
localStorageCapacityIsolation: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
serializeImagePulls: false
registerWithTaints:
- {key: txv.io/real-node, value: "true", effect: NoSchedule}
EOF
  # iptables mode; the conntrack sysctls it would tune are global on these kernels, so
  # they are left alone (0 = do not touch).
  cat > "$n/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$n/kube-proxy.kubeconfig"}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_POD_CIDR
healthzBindAddress: 127.0.0.1:$((KUBELET_PORT + 2))
metricsBindAddress: 127.0.0.1:$((KUBELET_PORT + 3))
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cat > "$n/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:$((KUBELET_PORT + 4))
    ready 127.0.0.1:$((KUBELET_PORT + 5))
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $n/coredns.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loadbalance
}
EOF
}

# node_up: starts the node's namespaces, forwarders and components, and waits until the
# node is Ready and DNS answers. Needs the control plane up (up.sh calls it last).
node_up() {
  local t0=$SECONDS holder netns
  # shellcheck disable=SC2086 # a space-separated package list
  ensure_apt $K8S_NODE_APT_PACKAGES
  # shellcheck source=/dev/null
  . "$K8S_NODE_IMAGES/images.env"
  mkdir -p "$NODE_STATE"; chmod 700 "$NODE_STATE"
  # containerd puts the pods' containers under a "k8s.io" cgroup in every hierarchy and
  # leaves that parent behind; down removes those that did not exist before.
  find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name k8s.io > "$NODE_STATE/cgroup-parents-before" 2>/dev/null || true
  node_pki
  write_node_configs
  node_cluster_objects

  start_cmd sleep unshare --net --mount --propagation private -- \
    "$K8S_HERE/node-ns.sh" "$NODE_STATE" "$NODE_IP/${NODE_POD_CIDR#*/}"
  holder=$(awk '$2 == "sleep" {print $1}' "$K8S_STATE/pids" | tail -n 1)
  echo "$holder" > "$NODE_STATE/holder.pid"
  netns=$(readlink "/proc/$holder/ns/net")
  [ "$netns" != "$(readlink /proc/self/ns/net)" ] || die "the node holder is in the host's network namespace"
  echo "$netns" > "$NODE_STATE/netns"

  # The two loopback bridges (see the top of this file); sockets mode 600 in a 700 dir.
  start_cmd socat socat "UNIX-LISTEN:$NODE_STATE/apiserver.sock,fork,mode=600" "TCP:127.0.0.1:$APISERVER_PORT"
  start_cmd socat nsenter -t "$holder" -n -m -- socat \
    "TCP-LISTEN:$APISERVER_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$NODE_STATE/apiserver.sock"
  start_cmd socat nsenter -t "$holder" -n -m -- socat \
    "UNIX-LISTEN:$NODE_STATE/kubelet.sock,fork,mode=600" "TCP:127.0.0.1:$KUBELET_PORT"
  wait_for "kubelet forwarder socket" 10 test -S "$NODE_STATE/kubelet.sock"
  start_cmd socat socat "TCP-LISTEN:$KUBELET_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$NODE_STATE/kubelet.sock"

  start_cmd containerd nsenter -t "$holder" -n -m -- containerd --config "$NODE_STATE/containerd.toml"
  wait_for "containerd" 60 node_ctr version
  local img
  for img in pause busybox; do
    local ref; ref=$(sed -n "s/^${img^^}_IMAGE=//p" "$K8S_NODE_IMAGES/images.env")
    node_ctr images import --index-name "$ref" "$K8S_NODE_IMAGES/$img.tar" >/dev/null
  done
  log "node: containerd up, images imported after $((SECONDS - t0))s"

  start_cmd kubelet nsenter -t "$holder" -n -m -- "$K8S_NODE_BIN/kubelet" \
    --config "$NODE_STATE/kubelet-config.yaml" --kubeconfig "$NODE_STATE/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --node-labels type=real \
    --root-dir "$NODE_STATE/kubelet" --cert-dir "$NODE_STATE/kubelet/pki"
  wait_for "real node Ready" 180 kc wait node "$NODE_NAME" --for=condition=Ready --timeout=5s
  log "node: kubelet registered $NODE_NAME Ready after $((SECONDS - t0))s"

  # kube-proxy has its rules in place before kube-router starts. kube-router rewrites the
  # filter table from a copy it read a moment before, so a chain kube-proxy creates in
  # between is gone when kube-proxy adds the jump to it ("Chain 'KUBE-SERVICES' does not
  # exist"). kube-proxy (v1.37) does not retry a failed first sync: it runs outside its
  # retrying loop, and the next full sync is an hour later, so the node had no Service
  # routing at all (suite 41 failed so in CI, and here under load, twice in a row).
  start_cmd kube-proxy nsenter -t "$holder" -n -m -- "$K8S_NODE_BIN/kube-proxy" \
    --config "$NODE_STATE/kube-proxy.yaml"
  wait_for --log=kube-proxy "kube-proxy /healthz" 60 run_in_node curl -fsS "http://127.0.0.1:$((KUBELET_PORT + 2))/healthz"
  # kube-proxy has synced the kube-dns Service when its DNAT rule names the ClusterIP.
  wait_for --log=kube-proxy "kube-proxy rules for kube-dns" 60 bash -c \
    "nsenter -t $holder -n -- iptables -t nat -S KUBE-SERVICES | grep -q -- '-d $CLUSTER_DNS_IP/32'"
  start_cmd kube-router nsenter -t "$holder" -n -m -- "$KUBE_ROUTER_BIN/kube-router" \
    "--kubeconfig=$NODE_STATE/kube-router.kubeconfig" --hostname-override="$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range=10.96.0.0/16 --health-port=0 --metrics-port=0
  start_cmd coredns nsenter -t "$holder" -n -m -- "$COREDNS_BIN/coredns" -conf "$NODE_STATE/Corefile"
  wait_for --log=coredns "CoreDNS /ready" 60 run_in_node curl -fsS "http://127.0.0.1:$((KUBELET_PORT + 5))/ready"
  log "node: kube-proxy, kube-router and CoreDNS up after $((SECONDS - t0))s"
}

# node_teardown: what must happen before the node's processes are stopped by PID: kubelet
# first (or it restarts what is stopped next), then every container and sandbox through
# containerd, so that runc removes their cgroups (the host's cgroup v1 tree is not in our
# namespaces) and the shims exit. The rest goes with down.sh's stop loop and the
# namespaces vanish with their last process.
node_teardown() {
  [ -f "$NODE_STATE/holder.pid" ] || return 0
  local pid name id
  while read -r pid name; do
    [ "$name" = kubelet ] && pid_is_ours "$pid" kubelet && stop "$pid"
  done < "$K8S_STATE/pids"
  if [ -S "$NODE_STATE/containerd.sock" ] && node_ctr version >/dev/null 2>&1; then
    # Remembered for node_leftovers, which looks for their cgroups after down.
    node_ctr containers ls -q 2>/dev/null >> "$NODE_STATE/container-ids" || true
    for id in $(node_ctr tasks ls -q 2>/dev/null); do
      node_ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $(node_ctr tasks ls -q 2>/dev/null); do
      node_ctr tasks delete -f "$id" >/dev/null 2>&1 || log "node: could not delete task $id"
    done
    for id in $(node_ctr containers ls -q 2>/dev/null); do
      node_ctr containers delete "$id" >/dev/null 2>&1 || log "node: could not delete container $id"
    done
  fi
}

# node_cgroup_parents_remove: after containerd and its shims are gone, removes the k8s.io
# cgroups that the node created (rmdir: only while empty, so another node's are safe).
node_cgroup_parents_remove() {
  [ -f "$NODE_STATE/cgroup-parents-before" ] || return 0
  local d
  for d in /sys/fs/cgroup/*/k8s.io; do
    [ -d "$d" ] || continue
    grep -qxF "$d" "$NODE_STATE/cgroup-parents-before" || rmdir "$d" 2>/dev/null || true
  done
}

# node_leftovers prints anything of the node's that is still there after down: a process
# in its network namespace, a cgroup of one of its containers, or a k8s.io cgroup parent
# it created.
node_leftovers() {
  local netns p
  [ -f "$NODE_STATE/netns" ] || return 0
  node_cgroup_parents_remove
  for p in /sys/fs/cgroup/*/k8s.io; do
    [ -d "$p" ] || continue
    grep -qxF "$p" "$NODE_STATE/cgroup-parents-before" || echo "cgroup $p"
  done
  netns=$(cat "$NODE_STATE/netns")
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns" ] &&
      echo "process ${p#/proc/} in the node's network namespace: $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-100)"
  done
  if [ -f "$NODE_STATE/container-ids" ]; then
    local id
    while read -r id; do
      find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | sed 's/^/cgroup /'
    done < "$NODE_STATE/container-ids"
  fi
}

# node_status prints the node's state; non-zero when it is not Ready.
node_status() {
  local ready
  ready=$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  echo "real node $NODE_NAME: Ready=${ready:-unknown}, netns $(cat "$NODE_STATE/netns" 2>/dev/null)"
  [ "$ready" = True ]
}
