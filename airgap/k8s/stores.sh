# shellcheck shell=bash
# airgap/k8s/stores.sh: PostgreSQL and Redis for the "local" environment, sourced by
# common.sh after node.sh. Started by up.sh with the real node (K8S_REAL_NODE=1), shown by
# status.sh, stopped by down.sh.
#
# Production's pods reach RDS Proxy and ElastiCache at addresses in the database subnets
# (Terraform output database_subnet_cidrs, which the egress NetworkPolicies allow), by DNS
# name, over TLS, with credentials from Secrets Manager. Here the same shape:
#
#   postgres.txv-stores.svc.cluster.local:5432 -> STORES_IP:5432  PostgreSQL 15 (Debian)
#   redis.txv-stores.svc.cluster.local:6379    -> STORES_IP:6379  Redis 7 (Debian), cluster mode
#
# Both are selectorless Services with an EndpointSlice of ours pointing at STORES_IP, an
# address on the node's loopback inside the node's network namespace (nothing listens on the
# host), in STORES_CIDR, which airgap/k8s/tofu-outputs.json gives as database_subnet_cidrs.
# Pods reach it through kube-proxy's NAT and the node's routing, so kube-router judges the
# connection by its real destination, as the VPC does in production. Both speak TLS only
# (certificates from the cluster CA, pki/ca.crt) and need a password: PostgreSQL's app user
# and a Redis ACL user; the generated credentials are in $NODE_STATE/stores.env (mode 600).
#
# The servers run as the postgres and redis users from a directory under /tmp (the state dir
# is root-only, and they drop root), which down.sh removes.

# shellcheck disable=SC2034 # STORES_CIDR: used by suite 41 and named in tofu-outputs.json
STORES_NAMESPACE=txv-stores
STORES_CIDR=10.247.0.0/24
STORES_IP=10.247.0.10
STORES_DB=transactions
STORES_DB_USER=transaction_validator
STORES_REDIS_USER=transaction-validator
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# stores_dir prints the servers' data directory (empty before stores_up).
stores_dir() { cat "$NODE_STATE/stores-dir" 2>/dev/null || true; }

# as_user USER CMD...: runs CMD as USER (no login, no PAM session that would outlive it).
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }

# redis_exe_name: the name the kernel gives Redis's binary (Debian's redis-server is a
# symlink to redis-check-rdb); pid_is_ours compares it with /proc/PID/exe.
redis_exe_name() { basename "$(readlink -f "$(command -v redis-server)")"; }

stores_up() {
  local t0=$SECONDS holder dir p=$K8S_STATE/pki
  ensure_apt postgresql redis-server redis-tools
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 not found in $PG_BIN"
  holder=$(cat "$NODE_STATE/holder.pid")
  nsenter -t "$holder" -n -- ip addr add "$STORES_IP/32" dev lo

  dir=$(mktemp -d /tmp/txv-stores.XXXXXX)
  echo "$dir" > "$NODE_STATE/stores-dir"
  # Traversable (not listable) by the two service users; each server's own dir is its alone.
  chmod 711 "$dir"
  mkdir -p "$dir/pg" "$dir/redis" "$dir/pg-tls" "$dir/redis-tls"
  ( cd "$p" || exit 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=txv-stores" -keyout stores.key -out stores.csr 2>/dev/null
    printf 'subjectAltName=DNS:postgres.%s.svc.cluster.local,DNS:redis.%s.svc.cluster.local,IP:%s\nextendedKeyUsage=serverAuth\n' \
      "$STORES_NAMESPACE" "$STORES_NAMESPACE" "$STORES_IP" > stores.ext
    openssl x509 -req -in stores.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile stores.ext -out stores.crt 2>/dev/null
    rm -f stores.csr stores.ext )
  local u
  for u in pg redis; do
    cp "$p/stores.crt" "$p/stores.key" "$p/ca.crt" "$dir/$u-tls/"
  done
  chown -R postgres:postgres "$dir/pg" "$dir/pg-tls"; chown -R redis:redis "$dir/redis" "$dir/redis-tls"
  chmod 700 "$dir/pg" "$dir/redis" "$dir/pg-tls" "$dir/redis-tls"

  local admin_pw db_pw redis_pw
  admin_pw=$(openssl rand -hex 24); db_pw=$(openssl rand -hex 24); redis_pw=$(openssl rand -hex 24)
  ( umask 077
    cat > "$NODE_STATE/stores.env" <<EOF
STORES_ADMIN_PASSWORD=$admin_pw
STORES_DB_PASSWORD=$db_pw
STORES_REDIS_PASSWORD=$redis_pw
DATABASE_URL=postgres://$STORES_DB_USER:$db_pw@postgres.$STORES_NAMESPACE.svc.cluster.local:5432/$STORES_DB?sslmode=verify-full
REDIS_ENDPOINT=rediss://redis.$STORES_NAMESPACE.svc.cluster.local:6379
EOF
  )

  # PostgreSQL: scram-sha-256 over TLS only, from the pods' and the node's addresses.
  ( umask 077; echo "$admin_pw" > "$dir/pg-tls/admin-pw" ); chown postgres "$dir/pg-tls/admin-pw"
  as_user postgres "$PG_BIN/initdb" -D "$dir/pg/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$dir/pg-tls/admin-pw" -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$dir/pg-tls/admin-pw"
  cat > "$dir/pg/data/pg_hba.conf" <<EOF
hostssl all all $NODE_POD_CIDR scram-sha-256
hostssl all all $STORES_IP/32  scram-sha-256
EOF
  chown postgres:postgres "$dir/pg/data/pg_hba.conf"
  # --txv.state: a custom setting PostgreSQL ignores, so that its command line names the
  # state dir, which is how down.sh and the liveness checks know the process is ours.
  start_cmd postgres nsenter -t "$holder" -n -- setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$PG_BIN/postgres" -D "$dir/pg/data" -c listen_addresses="$STORES_IP" -c port=5432 \
    -c unix_socket_directories= -c ssl=on -c ssl_cert_file="$dir/pg-tls/stores.crt" \
    -c ssl_key_file="$dir/pg-tls/stores.key" -c fsync=off -c max_connections=200 \
    "--txv.state=$K8S_STATE"
  wait_for "PostgreSQL" 60 nsenter -t "$holder" -n -- "$PG_BIN/pg_isready" -h "$STORES_IP" -p 5432
  PGPASSWORD=$admin_pw PGSSLMODE=verify-full PGSSLROOTCERT=$p/ca.crt nsenter -t "$holder" -n -- \
    psql -qX -v ON_ERROR_STOP=1 -h "$STORES_IP" -U postgres -d postgres >/dev/null <<EOF
CREATE ROLE $STORES_DB_USER LOGIN PASSWORD '$db_pw';
CREATE DATABASE $STORES_DB OWNER $STORES_DB_USER;
EOF

  # Redis: TLS only (port 0), one ACL user (the default user off), cluster mode with every
  # slot on this one node, like the ElastiCache configuration endpoint the overlay names.
  ( umask 077
    printf 'user default off\nuser %s on >%s ~* &* +@all\n' "$STORES_REDIS_USER" "$redis_pw" > "$dir/redis/users.acl" )
  chown redis:redis "$dir/redis/users.acl"
  # argv[0] names the state dir (see --txv.state above); set-proc-title no keeps it.
  # shellcheck disable=SC2016 # expanded by the inner bash
  start_cmd "$(redis_exe_name)" nsenter -t "$holder" -n -- setpriv --reuid=redis --regid=redis --init-groups -- \
    bash -c 'exec -a "$0" redis-server "$@"' "$NODE_STATE/redis-server" \
    --bind "$STORES_IP" --port 0 --tls-port 6379 --protected-mode yes \
    --tls-cert-file "$dir/redis-tls/stores.crt" --tls-key-file "$dir/redis-tls/stores.key" \
    --tls-ca-cert-file "$dir/redis-tls/ca.crt" --tls-auth-clients no \
    --dir "$dir/redis" --aclfile "$dir/redis/users.acl" --save '' --appendonly no \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-announce-ip "$STORES_IP" \
    --set-proc-title no --daemonize no
  wait_for "Redis" 60 stores_redis_answers
  [ "$(stores_redis_cli cluster addslotsrange 0 16383)" = OK ] || die "Redis: could not assign the cluster's slots"
  wait_for "Redis cluster state ok" 60 stores_redis_cluster_ok
  stores_objects
  log "stores: PostgreSQL and Redis up at $STORES_IP after $((SECONDS - t0))s"
}

# stores_redis_cli ARGS...: redis-cli as the app user over TLS, inside the node's namespace.
stores_redis_cli() {
  # shellcheck source=/dev/null
  REDISCLI_AUTH=$(. "$NODE_STATE/stores.env"; echo "$STORES_REDIS_PASSWORD") \
    nsenter -t "$(cat "$NODE_STATE/holder.pid")" -n -- redis-cli --no-auth-warning \
    --tls --cacert "$K8S_STATE/pki/ca.crt" -h "$STORES_IP" -p 6379 --user "$STORES_REDIS_USER" "$@"
}

stores_redis_answers() { [ "$(stores_redis_cli ping 2>/dev/null)" = PONG ]; }
stores_redis_cluster_ok() { stores_redis_cli cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

# stores_psql ARGS...: psql as the app user over TLS (verify-full), inside the node's namespace.
stores_psql() {
  # shellcheck source=/dev/null
  PGPASSWORD=$(. "$NODE_STATE/stores.env"; echo "$STORES_DB_PASSWORD") PGSSLMODE=verify-full \
    PGSSLROOTCERT=$K8S_STATE/pki/ca.crt nsenter -t "$(cat "$NODE_STATE/holder.pid")" -n -- \
    psql -qtAX -h "$STORES_IP" -U "$STORES_DB_USER" -d "$STORES_DB" "$@"
}

# stores_objects: the namespace, the two selectorless Services and their EndpointSlices.
stores_objects() {
  local name port
  {
    cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $STORES_NAMESPACE}
EOF
    for name in postgres:5432 redis:6379; do
      port=${name#*:}; name=${name%:*}
      cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: $STORES_NAMESPACE}
spec:
  ports: [{name: $name, port: $port, targetPort: $port, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $name-node
  namespace: $STORES_NAMESPACE
  labels: {kubernetes.io/service-name: $name, endpointslice.kubernetes.io/managed-by: txv-airgap}
addressType: IPv4
endpoints: [{addresses: ["$STORES_IP"], conditions: {ready: true}}]
ports: [{name: $name, port: $port, protocol: TCP}]
EOF
    done
  } | kc apply -f - >/dev/null
}

# stores_status prints the two servers' state; non-zero when one does not answer.
stores_status() {
  local rc=0
  [ -n "$(stores_dir)" ] || { echo "stores: not started"; return 1; }
  if [ "$(stores_psql -c 'select 1' 2>/dev/null)" = 1 ]; then
    echo "stores: PostgreSQL postgres.$STORES_NAMESPACE.svc.cluster.local -> $STORES_IP:5432: ok (TLS, user $STORES_DB_USER)"
  else
    echo "stores: PostgreSQL at $STORES_IP:5432: NOT ANSWERING"; rc=1
  fi
  if stores_redis_cluster_ok; then
    echo "stores: Redis redis.$STORES_NAMESPACE.svc.cluster.local -> $STORES_IP:6379: ok (TLS, cluster mode, user $STORES_REDIS_USER)"
  else
    echo "stores: Redis at $STORES_IP:6379: NOT ANSWERING"; rc=1
  fi
  return $rc
}

# stores_remove: after the servers are stopped, removes their data directory.
stores_remove() {
  local dir; dir=$(stores_dir)
  case "$dir" in /tmp/txv-stores.*) rm -rf "$dir" ;; esac
}
