#!/usr/bin/env bash
# engine-ns.sh runs inside the engine's private mount namespace (up.sh starts it under
# `unshare --mount --propagation private`) and then becomes the engine.
#
#   engine-ns.sh NS_DIR CONTENT_LAYOUT -- dagger-engine ARGS...
#
# The engine hard-codes paths in system folders (/usr/local/bin/runc, dagger-init,
# /opt/cni/bin, /usr/local/share/dagger/content) and writes to others (/etc/dnsmasq-resolv.conf,
# /etc/ssl/certs via update-ca-certificates, /var/lib/cni for IP leases, /run). Each of
# those directories gets an overlay whose upper layer lives in NS_DIR: the engine sees the
# host's files plus its own, and every write lands in NS_DIR, so the host's folders never
# change. Mounts made here vanish with the namespace when its last process exits.
set -euo pipefail
ns=$1 content=$2; shift 2
[ "${1:-}" = -- ] && shift

# Belt and braces: with shared propagation our mounts would appear on the host.
mount --make-rprivate /

overlay() {
  local dir=$1 key
  key=$(echo "${dir#/}" | tr / -)
  mkdir -p "$ns/upper/$key" "$ns/work/$key"
  mount -t overlay "txv-dagger-$key" \
    -o "lowerdir=$dir,upperdir=$ns/upper/$key,workdir=$ns/work/$key" "$dir"
}
overlay /etc
overlay /var/lib
overlay /usr/local/bin
overlay /usr/local/share
overlay /opt

# The Go SDK runtime image, an OCI layout whose blobs/sha256 is what the engine's builtin
# content store reads; read-only because it is the build cache's copy.
mkdir -p /usr/local/share/dagger/content
mount --bind -o ro "$content" /usr/local/share/dagger/content

# Runtime state (runc's /run/runc, dnsname's /run/containers, default sockets) is private.
mount -t tmpfs -o mode=0755 txv-dagger-run /run

exec "$@"
