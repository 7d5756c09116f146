#!/usr/bin/env bash
# airgap/k8s/build.sh builds the throwaway control plane and kwok from the Go module proxy
# and prints `export` lines for the cached bin directories:
#
#   eval "$(airgap/k8s/build.sh)"   # sets K8S_BIN and KWOK_BIN
#
# Outputs live in ~/.cache only (about 500 MB; never in git):
#   ~/.cache/k8s-$KUBERNETES_VERSION/bin   etcd kube-apiserver kube-controller-manager
#                                          kube-scheduler kubectl
#   ~/.cache/kwok-$KWOK_VERSION/bin        kwok
# and with --node (or K8S_REAL_NODE=1), the real node's parts (about 250 MB more):
#   ~/.cache/k8s-node-$KUBERNETES_VERSION/bin   kubelet kube-proxy (node/go.mod)
#   ~/.cache/coredns-$COREDNS_VERSION-KEY/bin    coredns (KEY: the plugin list)
#   ~/.cache/kube-router-$KUBE_ROUTER_VERSION/bin kube-router
#   ~/.cache/k8s-node-images-KEY                  pause.tar, busybox.tar (OCI archives)
# which adds K8S_NODE_BIN COREDNS_BIN KUBE_ROUTER_BIN K8S_NODE_IMAGES to the output; and with
# --eso, only the External Secrets Operator (build_eso; ESO_BIN):
#   ~/.cache/external-secrets-$ESO_VERSION-KEY/bin external-secrets, and ../crds.yaml
# A finished build is reused while the pins match; the k8s build is also redone when the
# wrapper go.mod/go.sum change, since they can move etcd or a dependency without touching
# KUBERNETES_VERSION. Cold: ~25 CPU-minutes; warm: instant.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=${REPO_ROOT:-$(cd "$HERE/../.." && pwd)}
# shellcheck source=../../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

# versions.env is the one place pins live; the wrapper go.mod has to say the same thing, and
# a silent disagreement would build a control plane that is not the one we claim.
check_pins() {
  local mod=$HERE/go.mod bad=0
  grep -qE "^\s*k8s\.io/kubernetes $KUBERNETES_VERSION( |$)" "$mod" ||
    { log "go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION"; bad=1; }
  grep -qE "^\s*go\.etcd\.io/etcd/server/v3 $ETCD_VERSION( |$)" "$mod" ||
    { log "go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"; bad=1; }
  # Every staging replace must point at the staging twin of KUBERNETES_VERSION.
  if grep -E '^\s*k8s\.io/[a-z-]+ => k8s\.io/[a-z-]+ v' "$mod" | grep -vq " $KUBERNETES_STAGING_VERSION\$"; then
    log "a staging replace in go.mod is not at $KUBERNETES_STAGING_VERSION"; bad=1
  fi
  # The node's wrapper builds kubelet and kube-proxy from the same release.
  grep -qE "^\s*k8s\.io/kubernetes $KUBERNETES_VERSION( |$)" "$HERE/node/go.mod" ||
    { log "node/go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION"; bad=1; }
  if grep -E '^\s*k8s\.io/[a-z-]+ => k8s\.io/[a-z-]+ v' "$HERE/node/go.mod" | grep -vq " $KUBERNETES_STAGING_VERSION\$"; then
    log "a staging replace in node/go.mod is not at $KUBERNETES_STAGING_VERSION"; bad=1
  fi
  [ $bad = 0 ] || die "airgap/k8s/go.mod disagrees with airgap/versions.env; fix one of them and run 'go mod tidy' in airgap/k8s"
}

# k8s_ldflags prints the linker flags that give the binaries their release's version.
k8s_ldflags() {
  local major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  local minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  # Without these the binaries call themselves v0.0.0-master, and kubectl then warns about
  # version skew against every server.
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$ld"
}

build_k8s() {
  local dir=$CACHE_ROOT/k8s-$KUBERNETES_VERSION stamp
  stamp=$(cat "$HERE/go.mod" "$HERE/go.sum" | sha256sum | cut -c1-16)
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ]; then
    cache_used "$dir"; echo "$dir/bin"; return 0
  fi
  log "building etcd $ETCD_VERSION + Kubernetes $KUBERNETES_VERSION control plane into $dir (cold: ~25 CPU-min)"
  local ld; ld=$(k8s_ldflags)
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
  # One `go build` for all five so the compiler shares work across them; -mod=readonly keeps
  # the committed go.sum authoritative (a missing hash fails instead of being added).
  ( cd "$HERE" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ld" \
      -o "$dir.tmp/bin/" \
      go.etcd.io/etcd/server/v3 \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl ) >&2 || { rm -rf "$dir.tmp"; die "control plane build failed"; }
  # go names the etcd binary after the path element before /v3.
  mv "$dir.tmp/bin/server" "$dir.tmp/bin/etcd"
  echo "$stamp" > "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  cache_used "$dir"
  echo "$dir/bin"
}

# build_node: kubelet and kube-proxy, from node/go.mod (the same release and staging pins as
# the control plane), into a cache directory of their own so the control plane's stays
# valid. Keyed like the control plane's: the wrapper's go.mod and go.sum.
build_node() {
  local dir=$CACHE_ROOT/k8s-node-$KUBERNETES_VERSION stamp
  stamp=$(cat "$HERE/node/go.mod" "$HERE/node/go.sum" | sha256sum | cut -c1-16)
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ]; then
    cache_used "$dir"; echo "$dir/bin"; return 0
  fi
  log "building kubelet + kube-proxy $KUBERNETES_VERSION into $dir"
  local ld; ld=$(k8s_ldflags)
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
  ( cd "$HERE/node" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ld" \
      -o "$dir.tmp/bin/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy ) >&2 ||
    { rm -rf "$dir.tmp"; die "kubelet/kube-proxy build failed"; }
  echo "$stamp" > "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  cache_used "$dir"
  echo "$dir/bin"
}

# build_coredns: CoreDNS from a copy of its module (its own go.sum, its own pins) with
# plugin.cfg cut down to COREDNS_PLUGINS and the plugin list regenerated the way upstream
# documents for custom builds (directives_generate.go).
build_coredns() {
  local key dir src
  key=$(echo "$COREDNS_PLUGINS" | sha256sum | cut -c1-8)
  dir=$CACHE_ROOT/coredns-$COREDNS_VERSION-$key
  if [ -f "$dir/.complete" ]; then cache_used "$dir"; echo "$dir/bin"; return 0; fi
  log "building CoreDNS $COREDNS_VERSION with plugins: $COREDNS_PLUGINS"
  src=$(mktemp -d "${TMPDIR:-/tmp}/coredns-src.XXXXXX")
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
  # shellcheck disable=SC2086 # one word per plugin
  if ! ( module_src "github.com/coredns/coredns@$COREDNS_VERSION" "$src/coredns" && cd "$src/coredns" &&
         awk -F: -v want=" $COREDNS_PLUGINS " '/^#/ || /^$/ {print; next} index(want, " " $1 " ") {print}' plugin.cfg > plugin.cfg.new &&
         mv plugin.cfg.new plugin.cfg &&
         [ "$(grep -cvE '^(#|$)' plugin.cfg)" = "$(echo $COREDNS_PLUGINS | wc -w)" ] &&
         go run directives_generate.go &&
         CGO_ENABLED=0 go build -mod=readonly -trimpath \
           -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
           -o "$dir.tmp/bin/coredns" . ) >&2; then
    rm -rf "$src" "$dir.tmp"; die "CoreDNS build failed"
  fi
  rm -rf "$src"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  cache_used "$dir"
  echo "$dir/bin"
}

# build_node_images: the two images the node runs, as OCI archives for `ctr images import`
# (the node has no registry to pull from): the sandbox's pause process (Debian's static
# catatonit in pause mode) and a test image (Debian's static busybox: sh, httpd, wget, nc,
# nslookup). Assembled with the project's go-containerregistry tool (airgap/dagger txv-oci).
build_node_images() {
  local key dir oci tools work b v a
  ensure_apt busybox-static catatonit
  b=$(dpkg-query -W -f='${Version}' busybox-static); v=$(dpkg-query -W -f='${Version}' catatonit)
  tools=$REPO_ROOT/airgap/dagger
  key=$( { echo "$b $v"; cat "$tools/go.mod" "$tools/go.sum" "$tools"/cmd/txv-oci/*.go; } | sha256sum | cut -c1-12)
  dir=$CACHE_ROOT/k8s-node-images-$key
  if [ -f "$dir/.complete" ]; then cache_used "$dir"; echo "$dir"; return 0; fi
  log "assembling the node's images (busybox $b, catatonit $v) into $dir"
  work=$(mktemp -d "${TMPDIR:-/tmp}/node-images.XXXXXX")
  oci=$work/txv-oci
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  (
    set -e
    # Built here rather than taken from airgap/dagger/build.sh's cache: that build holds
    # one lock for all its stages, and the engine's stage alone takes ~17 minutes.
    (cd "$tools" && go build -mod=readonly -trimpath -o "$oci" ./cmd/txv-oci)
    mkdir -p "$work/pause" "$work/busybox/bin" "$work/busybox/tmp" "$work/busybox/www"
    cp /usr/bin/catatonit "$work/pause/pause"
    cp /bin/busybox "$work/busybox/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/busybox/bin/$a"; done
    chmod 1777 "$work/busybox/tmp"
    tar -C "$work/pause" --numeric-owner --owner=0 --group=0 -cf "$work/pause.tar" .
    tar -C "$work/busybox" --numeric-owner --owner=0 --group=0 -cf "$work/busybox.tar" .
    "$oci" assemble -out "$work/pause.oci" -layer "$work/pause.tar" -cmd /pause -cmd -P
    "$oci" assemble -out "$work/busybox.oci" -layer "$work/busybox.tar" -env PATH=/bin -cmd sh
    tar -C "$work/pause.oci" -cf "$dir.tmp/pause.tar" .
    tar -C "$work/busybox.oci" -cf "$dir.tmp/busybox.tar" .
  ) >&2 || { rm -rf "$work" "$dir.tmp"; die "node images failed"; }
  rm -rf "$work"
  # The names the node knows them by (containerd's sandbox_image, the test pods' image).
  printf 'PAUSE_IMAGE=txv.local/pause:catatonit-%s\nBUSYBOX_IMAGE=txv.local/busybox:%s\n' "${v%%-*}" "${b#*:}" | tr '+~' '__' > "$dir.tmp/images.env"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  cache_used "$dir"
  echo "$dir"
}

# build_eso: the External Secrets Operator controller (the secrets path of every overlay:
# ExternalSecret -> AWS Secrets Manager -> Secret) from a copy of its module, with its
# provider and generator lists cut to what the project uses (AWS; the password generator),
# the way CoreDNS's plugin list is cut above: the ~30 other back ends (Azure, GCP, Vault,
# ...) would be most of the build and are never configured here. Keyed by the two lists.
build_eso() {
  local key dir src
  key=$(echo "$ESO_PROVIDERS|$ESO_GENERATORS" | sha256sum | cut -c1-8)
  dir=$CACHE_ROOT/external-secrets-$ESO_VERSION-$key
  if [ -f "$dir/.complete" ]; then cache_used "$dir"; echo "$dir/bin"; return 0; fi
  log "building External Secrets Operator $ESO_VERSION with providers: $ESO_PROVIDERS"
  src=$(mktemp -d "${TMPDIR:-/tmp}/eso-src.XXXXXX")
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
  # keep_imports FILE PREFIX NAMES: keeps only the blank imports PREFIX/NAME of FILE.
  keep_imports() {
    awk -v pre="$2" -v want=" $3 " '
      index($0, "_ \"" pre "/") { n = $0; sub(".*\"" pre "/", "", n); sub("\".*", "", n)
        if (!index(want, " " n " ")) next }
      {print}' "$1" > "$1.new" && mv "$1.new" "$1"
  }
  local m=github.com/external-secrets/external-secrets
  # shellcheck disable=SC2086 # one word per provider
  if ! ( module_src "$m@$ESO_VERSION" "$src/eso" && cd "$src/eso" &&
         keep_imports pkg/provider/register/register.go "$m/pkg/provider" "$ESO_PROVIDERS" &&
         keep_imports pkg/generator/register/register.go "$m/pkg/generator" "$ESO_GENERATORS" &&
         [ "$(grep -c '_ "' pkg/provider/register/register.go)" = "$(echo $ESO_PROVIDERS | wc -w)" ] &&
         CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" \
           -o "$dir.tmp/bin/external-secrets" . ) >&2; then
    rm -rf "$src" "$dir.tmp"; die "External Secrets Operator build failed"
  fi
  # The CRDs of the same release, for up.sh to install before the controller starts.
  cp "$src/eso/deploy/crds/bundle.yaml" "$dir.tmp/crds.yaml"
  rm -rf "$src"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
  cache_used "$dir"
  echo "$dir/bin"
}

main() {
  # The machines are shared with other builds (2 cores); yield to interactive work.
  renice -n "${BUILD_NICE:-10}" -p $$ >/dev/null 2>&1 || true
  command -v go >/dev/null || die "go is not installed"
  check_pins
  mkdir -p "$CACHE_ROOT"
  if [ "${1:-}" = --eso ]; then
    # Its own lock: a cold ESO build must not hold up.sh's wait for the cluster's binaries.
    exec 9>"$CACHE_ROOT/.airgap-eso-build.lock"
    flock 9
    local eso_bin; eso_bin=$(build_eso)
    if [ ! -s "$eso_bin/external-secrets" ] || [ ! -s "$eso_bin/../crds.yaml" ]; then die "$eso_bin: ESO missing after build"; fi
    printf 'export ESO_BIN=%q\n' "$eso_bin"
    return 0
  fi
  # Two builds at once would delete each other's half-built output ($dir.tmp); the second
  # waits and then finds the first one's result in the cache.
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.airgap-k8s-build.lock"
  flock 9
  local k8s_bin kwok_bin
  k8s_bin=$(build_k8s)
  kwok_bin=$(ensure_go_tool kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok)
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$k8s_bin/$b" ] || die "$k8s_bin/$b missing after build"
  done
  [ -x "$kwok_bin/kwok" ] || die "$kwok_bin/kwok missing after build"
  printf 'export K8S_BIN=%q\nexport KWOK_BIN=%q\n' "$k8s_bin" "$kwok_bin"
  if [ "${1:-}" = --node ] || [ "${K8S_REAL_NODE:-0}" = 1 ]; then
    local node_bin coredns_bin router_bin images
    node_bin=$(build_node)
    coredns_bin=$(build_coredns)
    router_bin=$(CGO_ENABLED=0 ensure_go_tool kube-router "$KUBE_ROUTER_VERSION" \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
      -ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION")
    images=$(build_node_images)
    for b in "$node_bin/kubelet" "$node_bin/kube-proxy" "$coredns_bin/coredns" "$router_bin/kube-router" \
      "$images/pause.tar" "$images/busybox.tar"; do
      [ -s "$b" ] || die "$b missing after build"
    done
    printf 'export K8S_NODE_BIN=%q\nexport COREDNS_BIN=%q\nexport KUBE_ROUTER_BIN=%q\nexport K8S_NODE_IMAGES=%q\n' \
      "$node_bin" "$coredns_bin" "$router_bin" "$images"
  fi
}

main "$@"
