#!/usr/bin/env bash
# Suite: the throwaway cluster's real node (airgap/k8s with K8S_REAL_NODE=1), offline.
#   build (cached) -> up with the real node (timed) -> up again (a no-op, timed) -> on the
#   real node: a pod becomes Ready through its readiness probe; a ClusterIP Service routes
#   to it (kube-proxy); a pod resolves the Service's name (CoreDNS); a NetworkPolicy is
#   enforced (kube-router): with it, a pod without the allowed label cannot connect and one
#   with it can, and without it both can; PostgreSQL and Redis (stores.sh) answer by their
#   Service names, over TLS with a password, and an egress policy judges them by their
#   address -> down -> the host is as it was: no process,
#   listener, mount, link, firewall rule, sysctl or directory of the node left.
# Runs in a private state dir on its own free ports, like suite 40.
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
cluster_sandbox 7 "${SUITE_K8S_PORT_BASE:-28443}"
export K8S_REAL_NODE=1

# The host, in observable terms. Only what the node could touch, and only ours: other
# clusters and the Dagger engine on this shared machine change links and rules of their own
# while the suite runs.
snapshot() {
  local p
  host_snapshot_ours
  for p in "$HOME/.kube" "$HOME/.kwok" /var/run/kubernetes "$AIRGAP_STATE" /run/netns /run/containerd \
    /var/lib/cni /var/lib/kubelet /var/lib/containerd /var/log/pods /var/log/containers \
    /etc/cni /opt/cni /opt/containerd; do
    if [ -e "$p" ]; then find "$p" -maxdepth 2 -printf 'path %p\n' 2>/dev/null | sort; else echo "absent $p"; fi
  done
  grep -E "txv-node|$WORK|10\.246\." /proc/self/mountinfo | sed 's/^/mount /'
  ip -o link show | grep -E 'txv-cni0' | sed 's/^/link /'
  iptables-save 2>/dev/null | grep -E 'KUBE-|10\.246\.|10\.96\.' | sed 's/^/iptables /'
  nft list ruleset 2>/dev/null | grep -E 'KUBE-|10\.246\.|10\.96\.' | sed 's/^/nft /'
  ipset list -n 2>/dev/null | grep -E '^KUBE-' | sed 's/^/ipset /'
  sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.ipv4.conf.all.route_localnet 2>/dev/null
  find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path '*/k8s.io*' 2>/dev/null | sort | sed 's/^/cgroup /'
}

before=$(snapshot)
log "ports $K8S_PORT_BASE-$((K8S_PORT_BASE + 6)), state $K8S_STATE"

t=$SECONDS
"$K/build.sh" --node >/dev/null
log "build (control plane + node): $((SECONDS - t))s"

t=$SECONDS
kubeconfig=$("$K/up.sh")
up_secs=$((SECONDS - t))
log "up with the real node (nothing running before): ${up_secs}s"
check "$K/status.sh"
# shellcheck source=/dev/null
. "$K8S_STATE/env"
k() { "$KUBECTL" --kubeconfig "$kubeconfig" "$@"; }
for p in $PORTS; do
  addrs=$(ss -Hltn "sport = :$p" | awk '{print $4}')
  check test "$addrs" = "127.0.0.1:$p"
done

t=$SECONDS
again=$("$K/up.sh" 2>&1 >/dev/null)
warm_secs=$((SECONDS - t))
log "up again (already up): ${warm_secs}s"
check grep -q 'already up' <<<"$again"

# shellcheck source=/dev/null
. "$K8S_NODE_IMAGES/images.env"
NS=txv-node-$$
k create namespace "$NS" >/dev/null
pod_spec() {  # pod_spec NAME LABELS(json) COMMAND: a busybox pod pinned to the real node
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS, labels: $2}
spec:
  nodeSelector: {type: real}
  tolerations: [{key: txv.io/real-node, operator: Exists, effect: NoSchedule}]
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "$3"]
EOF
}

log "1. a pod on the real node becomes Ready through its readiness probe"
{ pod_spec web '{app: web}' 'mkdir -p /tmp/www && echo txv-node-ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'
  cat <<'EOF'
    ports: [{containerPort: 8080}]
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 2}
EOF
} | k apply -f - >/dev/null
pod_spec client '{role: client}' 'echo client started; exec sleep 3600' | k apply -f - >/dev/null
pod_spec allowed '{role: client, access: web}' 'exec sleep 3600' | k apply -f - >/dev/null
k -n "$NS" expose pod web --name web --port 80 --target-port 8080 >/dev/null
if k -n "$NS" wait pod web client allowed --for=condition=Ready --timeout=120s >/dev/null; then
  node=$(k -n "$NS" get pod web -o jsonpath='{.spec.nodeName}')
  ip=$(k -n "$NS" get pod web -o jsonpath='{.status.podIP}')
  check test "$node" = localhost
  check grep -q '^10\.246\.0\.' <<<"$ip"
  log "   ok: web Ready on $node at $ip"
else
  k -n "$NS" get pods -o wide >&2; k -n "$NS" describe pods >&2 || true
  failures=$((failures + 1))
fi

# served POD HOST PORT: true when POD gets web's page from HOST:PORT over a new TCP
# connection (busybox nc, 3 s to connect; busybox wget -T crashes in this build).
served() {
  timeout 20 "$KUBECTL" --kubeconfig "$kubeconfig" -n "$NS" exec "$1" -- \
    sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 3 $2 $3" 2>/dev/null | grep -qx txv-node-ok
}
svc_ip=$(k -n "$NS" get service web -o jsonpath='{.spec.clusterIP}')
name=web.$NS.svc.cluster.local

log "2. the Service's ClusterIP routes to the pod (kube-proxy)"
check served client "$svc_ip" 80
log "3. a pod resolves the Service's name (CoreDNS via the kube-dns ClusterIP)"
resolved=$(k -n "$NS" exec client -- nslookup "$name" 2>&1 || true)
check grep -q "Address: $svc_ip" <<<"$resolved"
check grep -q 'nameserver 10.96.0.10' <<<"$(k -n "$NS" exec client -- cat /etc/resolv.conf)"
check served client web 80
log "   ok: $name -> $svc_ip, and the short name connects too"

log "4. a NetworkPolicy is enforced (kube-router): only pods labelled access=web get in"
# Before the policy both clients connect: a failure after it is the policy's doing.
check served client "$name" 80
check served allowed "$name" 80
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {access: web}}}]
    ports: [{port: 8080, protocol: TCP}]
EOF
# kube-router applies policies asynchronously: wait (bounded) for the first refusal.
end=$((SECONDS + 60))
while served client "$name" 80; do
  [ $SECONDS -lt $end ] || break
  sleep 2
done
leaks=0
for target in "$name 80" "$svc_ip 80" "$ip 8080"; do
  # shellcheck disable=SC2086 # HOST PORT
  if served client $target; then log "   CHECK FAILED: the unlabelled pod still reaches $target"; leaks=1; fi
  # shellcheck disable=SC2086
  check served allowed $target
done
check test $leaks = 0
[ $leaks = 1 ] || log "   ok: unlabelled pod refused (name, ClusterIP, pod IP); labelled pod served"
k -n "$NS" delete networkpolicy web-ingress >/dev/null
end=$((SECONDS + 60))
until served client "$name" 80; do
  [ $SECONDS -lt $end ] || { log "   CHECK FAILED: the unlabelled pod is still refused after the policy was deleted"; failures=$((failures + 1)); break; }
  sleep 2
done

log "5. kubectl logs reaches the kubelet (apiserver -> loopback forwarder -> node)"
check test "$(k -n "$NS" logs client 2>&1)" = "client started"

log "6. the local environment's stores: PostgreSQL and Redis behind Services, TLS and a password"
# shellcheck source=../../airgap/k8s/common.sh
. "$K/common.sh"  # the stores_* helpers and settings
# From the node's namespace with the real clients: TLS verified against the cluster CA, the
# generated app credentials accepted, Redis in cluster mode with every slot served.
check "$K/status.sh"
check test "$(stores_psql -c 'select current_user')" = "$STORES_DB_USER"
check grep -q '^cluster_state:ok' <<<"$(stores_redis_cli cluster info)"
# Without a password neither answers.
check test "$(PGSSLMODE=require run_in_node psql -qtAX -w -h "$STORES_IP" -U "$STORES_DB_USER" -d "$STORES_DB" -c 'select 1' 2>/dev/null)" = ""
check grep -q NOAUTH <<<"$(run_in_node redis-cli --tls --cacert "$K8S_STATE/pki/ca.crt" -h "$STORES_IP" -p 6379 ping 2>&1)"
# reach POD HOST PORT: true when POD gets a TCP connection to HOST:PORT (busybox nc).
reach() {
  timeout 20 "$KUBECTL" --kubeconfig "$kubeconfig" -n "$NS" exec "$1" -- \
    sh -c "nc -w 3 $2 $3 </dev/null >/dev/null" 2>/dev/null
}
pg=postgres.$STORES_NAMESPACE.svc.cluster.local; rd=redis.$STORES_NAMESPACE.svc.cluster.local
check reach client "$pg" 5432
check reach client "$rd" 6379
# The egress policies judge the stores by their address in the database subnet (kube-proxy
# has translated the ClusterIP by then), as production's do: allow the subnet on 5432 only
# (and DNS on the node's address, where CoreDNS listens) and Redis must be refused.
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: database-only}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: $NODE_IP/32}}]
    ports: [{port: 53, protocol: UDP}]
  - to: [{ipBlock: {cidr: $STORES_CIDR}}]
    ports: [{port: 5432, protocol: TCP}]
EOF
end=$((SECONDS + 60))
while reach client "$rd" 6379; do
  [ $SECONDS -lt $end ] || break
  sleep 2
done
if reach client "$rd" 6379; then log "   CHECK FAILED: Redis still reachable past the policy"; failures=$((failures + 1)); fi
check reach client "$pg" 5432
[ "$failures" != 0 ] || log "   ok: both stores by name, over TLS with the app users; the policy lets PostgreSQL through and refuses Redis"
stores_data=$(stores_dir)
check test -d "$stores_data"

k delete namespace "$NS" --wait=false >/dev/null

t=$SECONDS
check "$K/down.sh"
log "down: $((SECONDS - t))s"
check test ! -e "$AIRGAP_STATE"
check test ! -e "$stores_data"
set +e; "$K/status.sh" >/dev/null; st=$?; set -e
check test "$st" = 2

after=$(snapshot)
if [ "$before" != "$after" ]; then
  log "host differs after down:"; diff <(echo "$before") <(echo "$after") >&2 || true
  failures=$((failures + 1))
fi

[ "$failures" = 0 ] || { log "airgap-k8s-node: $failures checks failed"; exit 1; }
log "airgap-k8s-node: all checks passed (up ${up_secs}s, up again ${warm_secs}s)"
