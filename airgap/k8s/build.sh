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
  [ $bad = 0 ] || die "airgap/k8s/go.mod disagrees with airgap/versions.env; fix one of them and run 'go mod tidy' in airgap/k8s"
}

build_k8s() {
  local dir=$CACHE_ROOT/k8s-$KUBERNETES_VERSION stamp
  stamp=$(cat "$HERE/go.mod" "$HERE/go.sum" | sha256sum | cut -c1-16)
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ]; then
    cache_used "$dir"; echo "$dir/bin"; return 0
  fi
  log "building etcd $ETCD_VERSION + Kubernetes $KUBERNETES_VERSION control plane into $dir (cold: ~25 CPU-min)"
  local major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  local minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  # Without these the binaries call themselves v0.0.0-master, and kubectl then warns about
  # version skew against every server.
  local ld="-s -w"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
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

main() {
  # The machines are shared with other builds (2 cores); yield to interactive work.
  renice -n "${BUILD_NICE:-10}" -p $$ >/dev/null 2>&1 || true
  command -v go >/dev/null || die "go is not installed"
  check_pins
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
}

main "$@"
