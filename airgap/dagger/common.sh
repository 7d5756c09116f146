# shellcheck shell=bash
# shellcheck disable=SC2034 # a library: the scripts that source it use these variables
# Shared by build.sh, up.sh, down.sh, status.sh and smoke.sh: where the engine's build cache,
# state and sockets live, and the client environment that points dagger at it.
#
# up.sh records the values it used in $DAGGER_STATE/env, so down.sh and status.sh act on
# what was really started even when the caller's environment differs.

DAGGER_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=${REPO_ROOT:-$(cd "$DAGGER_HERE/../.." && pwd)}
# shellcheck source=../../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"
# shellcheck source=images.env
. "$DAGGER_HERE/images.env"

AIRGAP_STATE=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}
DAGGER_STATE=${DAGGER_STATE:-$AIRGAP_STATE/dagger}

if [ -f "$DAGGER_STATE/env" ]; then
  # shellcheck source=/dev/null
  . "$DAGGER_STATE/env"
fi

# Everything build.sh produces. Binaries depend on the Dagger pin only; images also on the
# Debian suite and the host Go, so they get their own key (see images_key).
DAGGER_CACHE=${DAGGER_CACHE:-$CACHE_ROOT/dagger-$DAGGER_VERSION}
DAGGER_BIN=$DAGGER_CACHE/bin
# Kept next to the binaries so that a warm machine never re-downloads or recompiles.
DAGGER_GOCACHE=$DAGGER_CACHE/gocache

ENGINE_SOCK=$DAGGER_STATE/engine.sock
ENGINE_ROOT=$DAGGER_STATE/root
ENGINE_LOG=$DAGGER_STATE/engine.log
ENGINE_PIDFILE=$DAGGER_STATE/engine.pid
REGISTRY_PIDFILE=$DAGGER_STATE/registry.pid
REGISTRY_LOG=$DAGGER_STATE/registry.log
# The private mount namespace's view of /usr/local/bin, /opt/cni/bin, /usr/local/share.
ENGINE_NS=$DAGGER_STATE/ns

# Debian's runtime for the engine: runc with seccomp (a runc built without it fails every
# exec), the CNI plugins, dnsmasq for container DNS, iptables for the bridge's NAT, git for
# git sources. debootstrap builds the base image. nft lets down.sh remove the nf_tables
# tables that iptables-nft creates on first use and never deletes.
DAGGER_APT_PACKAGES="runc iptables nftables dnsmasq-base containernetworking-plugins git ca-certificates debootstrap"

# Bounds of the engine's garbage collector (up.sh writes them into engine.toml): it never
# prunes below the reserve, keeps the cache under the maximum, and prunes early when the
# disk's free space falls under the minimum.
ENGINE_GC_RESERVED=${TXV_ENGINE_GC_RESERVED:-5GB}
ENGINE_GC_MAX_USED=${TXV_ENGINE_GC_MAX_USED:-20GB}   # a full suite 50 run leaves ~10 GB
ENGINE_GC_MIN_FREE=${TXV_ENGINE_GC_MIN_FREE:-15GB}

# The CNI bridge the engine creates in the host network namespace and the subnet it NATs.
ENGINE_BRIDGE=dagger0
ENGINE_SUBNET=10.87.0.0/16

# images_key names the image cache: a change of any input rebuilds the images. Bump
# IMAGES_RECIPE when build.sh changes what goes into them.
IMAGES_RECIPE=4   # 4: the golang image carries gcc, g++, libc6-dev, make, pkg-config, git
images_key() {
  local gov
  gov=$(go env GOVERSION)
  echo "$DAGGER_CACHE/images-$DEBIAN_SUITE-$gov-r$IMAGES_RECIPE"
}
# The debootstrapped root filesystems depend on the suite only (and take minutes).
ROOTFS_CACHE=$DAGGER_CACHE/rootfs-$DEBIAN_SUITE

# tool_images_key names the cache of the tool images (build.sh tool-images): a hash of every
# pin that goes into them, the schema directory's name (which carries the converter's source
# hash) and TOOL_IMAGES_RECIPE; the directory's `pins` file lists them in clear. Bump
# TOOL_IMAGES_RECIPE when build.sh changes what goes into the tool images. Needs K8S_SCHEMAS
# (from airgap/manifest-tools.sh), so only build.sh computes it; it records the result in
# $TOOL_IMAGES_CURRENT, which up.sh reads.
TOOL_IMAGES_RECIPE=1
TOOL_IMAGES_CURRENT=$DAGGER_CACHE/tool-images.current
tool_image_pins() {
  local k8s_stamp=$CACHE_ROOT/k8s-$KUBERNETES_VERSION/.complete
  printf '%s\n' "recipe=$TOOL_IMAGES_RECIPE" "DEBIAN_SUITE=$DEBIAN_SUITE" \
    "TOFU_VERSION=$TOFU_VERSION" "TF_PROVIDER_AWS_VERSION=$TF_PROVIDER_AWS_VERSION" \
    "aws-provider=$(basename "$(aws_provider_dir)")" \
    "TF_PROVIDER_RANDOM_PSEUDO=$TF_PROVIDER_RANDOM_PSEUDO" "TF_PROVIDER_TLS_PSEUDO=$TF_PROVIDER_TLS_PSEUDO" \
    "TFLINT_VERSION=$TFLINT_VERSION" "TFLINT_RULESET_AWS_VERSION=$TFLINT_RULESET_AWS_VERSION" \
    "TRIVY_VERSION=$TRIVY_VERSION" "KUBECONFORM_VERSION=$KUBECONFORM_VERSION" \
    "KUSTOMIZE_VERSION=$KUSTOMIZE_VERSION" "ACTIONLINT_VERSION=$ACTIONLINT_VERSION" \
    "KUBERNETES_VERSION=$KUBERNETES_VERSION" "k8s-build=$(cat "$k8s_stamp" 2>/dev/null)" \
    "VERSITYGW_VERSION=$VERSITYGW_VERSION" "PROMETHEUS_MODULE_VERSION=$PROMETHEUS_MODULE_VERSION" \
    "PROMETHEUS_VERSION=$PROMETHEUS_VERSION" "COSIGN_VERSION=$COSIGN_VERSION" \
    "GITLEAKS_VERSION=$GITLEAKS_VERSION" \
    "schemas=$(basename "${K8S_SCHEMAS:-none}")"
}
tool_images_key() {
  echo "$DAGGER_CACHE/tool-images-$(tool_image_pins | sha256sum | cut -c1-12)"
}

# pid_is_ours PID EXE_BASENAME: alive and still running the binary we started, so a recycled
# PID is never signalled.
pid_is_ours() {
  local exe
  [ -n "$1" ] && [ -d "/proc/$1" ] || return 1
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  [ "$(basename "${exe% (deleted)}")" = "$2" ]
}

# dagger_client_env prints the exports a client needs to use this engine (sourced by smoke.sh,
# printed by status.sh for later pipeline work).
dagger_client_env() {
  cat <<ENV
export _EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://$ENGINE_SOCK
export _EXPERIMENTAL_DAGGER_CLI_BIN=$DAGGER_BIN/dagger
export PATH=$DAGGER_BIN:\$PATH
export DO_NOT_TRACK=1 DAGGER_NO_NAG=1 DAGGER_NO_UPDATE_CHECK=1
# The Go SDK forwards the client's GOPROXY into module containers for \`go mod tidy\`.
export GOPROXY=$(go env GOPROXY)
ENV
}

DAGGER_TOOLS=$DAGGER_CACHE/tools-$GO_CONTAINERREGISTRY_VERSION
# debootstrap's source: the mirror apt already uses on these machines.
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# registry_image_args IMAGES_DIR TOOL_IMAGES_DIR prints the `-image REPO:TAG=LAYOUT` arguments
# of txv-oci serve/push, one a line: every image of images.env whose layout exists. A tool
# image that could not be built is simply absent (smoke.sh then fails, naming it).
registry_image_args() {
  local images=$1 tools=$2 ref t var
  for ref in "$IMAGE_DEBIAN" "$IMAGE_DEBIAN_SLIM"; do printf '%s\n' -image "$(registry_path "$ref")=$images/debian"; done
  for ref in "$IMAGE_GOLANG" "$IMAGE_GOLANG_MINOR"; do printf '%s\n' -image "$(registry_path "$ref")=$images/golang"; done
  printf '%s\n' -image "$(registry_path "$IMAGE_STATIC")=$images/static"
  printf '%s\n' -image "$(registry_path "$IMAGE_GO_SDK")=$images/gosdk"
  for t in $TOOL_IMAGES; do
    var=IMAGE_${t^^}
    [ -f "$tools/$t/index.json" ] && printf '%s\n' -image "$(registry_path "${!var}")=$tools/$t"
  done
  return 0
}

# registry_path IMAGE: the repository:tag an image has inside the local registry, which is
# where the engine's mirror rule looks (docker.io/library/golang:1.26 -> library/golang:1.26).
registry_path() {
  local ref=$1
  echo "${ref#*/}"
}

# host_fingerprint prints every piece of host state the engine or registry could leave
# behind, one item a line, so that a diff of two fingerprints shows exactly what changed.
# It is deliberately narrow: other engineers' processes come and go on the same machine,
# so it looks only at the places this engine touches.
host_fingerprint() {
  local t p d
  echo "sysctl ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
  ip -o link show | awk -F': ' '{print "link " $2}' | sed 's/@.*//' | grep -E 'link (dagger|cni|veth)' || true
  nft list tables 2>/dev/null | sed 's/^/nft /' || true
  for t in filter nat mangle; do
    # Counters change with traffic; rules and chains are what matter.
    iptables-save -t "$t" 2>/dev/null | grep -E '^[:-]' | sed -E 's/ \[[0-9]+:[0-9]+\]$//; s/^/iptables '"$t"' /' || true
  done
  for p in /etc/dnsmasq-resolv.conf /etc/cni /var/lib/cni /var/lib/dagger /opt/cni \
           /usr/local/bin/runc /usr/local/bin/dagger-init /usr/local/share/dagger \
           /run/dagger /run/buildkit /run/containers /run/runc /run/netns /var/run/netns; do
    [ -e "$p" ] && echo "path $p"
  done
  for d in /sys/fs/cgroup/*/; do
    find "$d" -maxdepth 2 -type d \( -name 'buildkit*' -o -name 'dagger*' \) 2>/dev/null | sed 's/^/cgroup /'
  done
  ss -Hltn "sport = :${REGISTRY_ADDR##*:}" 2>/dev/null | awk '{print "listen " $4}'
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in
      */dagger-engine|*/txv-oci|*/dnsmasq|*/runc|*/dagger-init) echo "process $(readlink "$p/exe") $(tr '\0' ' ' <"$p/cmdline" | cut -c1-120)" ;;
    esac
  done
  mount | grep -E 'txv-dagger|overlay on /(etc|var/lib|opt|usr/local)' | sed 's/^/mount /' || true
}
