# shellcheck shell=bash
# Shared helpers for the repository's scripts. Source it; it defines functions only.
#
# Caching rule: everything built from source lands in ~/.cache/<name>-<pinned version> and
# is reused while the pin in airgap/versions.env matches, so a warm run builds nothing.

REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=../airgap/versions.env
. "$REPO_ROOT/airgap/versions.env"

export GOFLAGS=${GOFLAGS:--buildvcs=false}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
# Each Go module builds with its own pins, never a workspace's shared ones (README.md,
# "Nine Go modules, no go.work"): a developer's go.work must not change what CI runs.
export GOWORK=off
CACHE_ROOT=${CACHE_ROOT:-$HOME/.cache}

# cache_used DIR... records that a cache entry was just handed out (DIR/.used's mtime), so
# airgap/cache-gc.sh can tell stale entries, those of old pins, from the ones in use.
cache_used() {
  local d
  for d in "$@"; do [ -d "$d" ] && touch "$d/.used"; done
  return 0
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ensure_apt PKG... installs the Debian packages that are missing (CI starts from a fresh
# machine; a developer's machine usually has them after the first run).
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  # A suite and airgap/prebuild.sh may install at the same time; dpkg allows one at a time,
  # so the second waits for the lock instead of failing on it.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_go_tool NAME VERSION PACKAGE [go install flags...] builds PACKAGE@VERSION into
# ~/.cache/NAME-VERSION/bin once and prints that bin directory.
ensure_go_tool() {
  local name=$1 version=$2 pkg=$3; shift 3
  local dir=$CACHE_ROOT/$name-$version
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$CACHE_ROOT"
    # One builder at a time per tool: a second caller waits, then finds it built,
    # instead of deleting the first one's half-built directory.
    exec {lock}>"$dir.lock"
    flock "$lock"
    if [ ! -f "$dir/.complete" ]; then
      log "building $name $version from the Go module proxy (cached in $dir)"
      rm -rf "$dir"; mkdir -p "$dir/bin"
      GOBIN=$dir/bin go install -trimpath "$@" "$pkg@$version" >&2 || { rm -rf "$dir"; flock -u "$lock"; return 1; }
      touch "$dir/.complete"
    fi
    flock -u "$lock"
    exec {lock}>&-
  fi
  cache_used "$dir"
  echo "$dir/bin"
}

# versitygw_bin and promtool_bin print the paths of the two tools the service's test suite
# runs (the S3 server the ETL job's tests write to; the alerting rules' checker), built once
# from the Go module proxy. airgap/dagger/build.sh packs the same binaries into the tool
# images the pipeline's test stage takes them from.
versitygw_bin() {
  local dir
  dir=$(ensure_go_tool versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw) || return 1
  echo "$dir/versitygw"
}
promtool_bin() {
  local dir
  dir=$(ensure_go_tool promtool "$PROMETHEUS_MODULE_VERSION" github.com/prometheus/prometheus/cmd/promtool -ldflags="-s -w") || return 1
  echo "$dir/promtool"
}

# gitleaks_bin prints the path of gitleaks (the pipeline's second secret scanner, ci/secrets.go),
# built once from the Go module proxy. Static (CGO_ENABLED=0) like the upstream release: the
# pipeline copies it out of its tool image into the golang image, which has the git that
# `gitleaks git` runs. The version ldflag is the release's, so `gitleaks version` names the pin.
gitleaks_bin() {
  local dir
  dir=$(CGO_ENABLED=0 ensure_go_tool gitleaks "$GITLEAKS_VERSION" "github.com/zricethezav/gitleaks/v8" \
    -ldflags="-s -w -X=github.com/zricethezav/gitleaks/v8/version.Version=${GITLEAKS_VERSION#v}") || return 1
  echo "$dir/gitleaks"
}

# axe_core_js prints the path of axe-core's axe.min.js, AXE_CORE_VERSION from the npm
# registry (`npm pack`), refused unless the tarball's sha512 is AXE_CORE_INTEGRITY; cached.
axe_core_js() {
  local dir=$CACHE_ROOT/axe-core-$AXE_CORE_VERSION tmp lock got
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$CACHE_ROOT"
    exec {lock}>"$dir.lock"
    flock "$lock"
    if [ ! -f "$dir/.complete" ]; then
      log "fetching axe-core $AXE_CORE_VERSION from the npm registry (cached in $dir)"
      tmp=$(mktemp -d "${TMPDIR:-/tmp}/axe-core.XXXXXX")
      rm -rf "$dir"; mkdir -p "$dir"
      if ! (cd "$tmp" && npm pack --silent "axe-core@$AXE_CORE_VERSION" >/dev/null) >&2; then
        rm -rf "$dir" "$tmp"; flock -u "$lock"; return 1
      fi
      got="sha512-$(openssl dgst -sha512 -binary "$tmp/axe-core-$AXE_CORE_VERSION.tgz" | base64 -w0)"
      if [ "$got" != "$AXE_CORE_INTEGRITY" ]; then
        log "axe-core $AXE_CORE_VERSION: integrity $got, want $AXE_CORE_INTEGRITY"
        rm -rf "$dir" "$tmp"; flock -u "$lock"; return 1
      fi
      if ! { tar -xzf "$tmp/axe-core-$AXE_CORE_VERSION.tgz" -C "$tmp" package/axe.min.js package/LICENSE &&
             mv "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dir/"; }; then
        rm -rf "$dir" "$tmp"; flock -u "$lock"; return 1
      fi
      rm -rf "$tmp"
      touch "$dir/.complete"
    fi
    flock -u "$lock"
    exec {lock}>&-
  fi
  cache_used "$dir"
  echo "$dir/axe.min.js"
}

# trivy_bin prints the path of trivy TRIVY_VERSION, built once (airgap/iac-tools.sh and
# airgap/manifest-tools.sh both need it). Not `go install m@v`, which fails twice over on
# these machines: it asks the proxy for the module's version list to check deprecation (the
# proxy answers 403 for trivy), and trivy imports encoding/json/v2, which Go 1.26 only has
# under GOEXPERIMENT=jsonv2 (trivy's Makefile sets it). So: a module copy, that experiment
# on, and the release's own version ldflag so `trivy --version` names the pin.
trivy_bin() {
  local dir=$CACHE_ROOT/trivy-$TRIVY_VERSION src lock
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$CACHE_ROOT"
    exec {lock}>"$dir.lock"
    flock "$lock"
    if [ ! -f "$dir/.complete" ]; then
      log "building trivy $TRIVY_VERSION from a copy of its module (cached in $dir; ~10-20 CPU-min cold)"
      src=$(mktemp -d "${TMPDIR:-/tmp}/trivy-src.XXXXXX")
      rm -rf "$dir"; mkdir -p "$dir/bin"
      if ! (module_src "github.com/aquasecurity/trivy@$TRIVY_VERSION" "$src/trivy" &&
            cd "$src/trivy" && GOEXPERIMENT=jsonv2 go build -trimpath \
              -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
              -o "$dir/bin/trivy" ./cmd/trivy) >&2; then
        rm -rf "$dir" "$src"; flock -u "$lock"; return 1
      fi
      rm -rf "$src"
      touch "$dir/.complete"
    fi
    flock -u "$lock"
    exec {lock}>&-
  fi
  cache_used "$dir"
  echo "$dir/bin/trivy"
}

# module_src MODULE@VERSION DEST copies a module's source into a writable directory; needed
# for modules whose go.mod carries replace directives (go install refuses those).
module_src() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$dir" ] || die "go mod download $1 failed"
  rm -rf "$2"; cp -r "$dir" "$2"; chmod -R u+w "$2"
}

# aws_provider_dir prints the cache directory of the offline AWS provider build: keyed by the
# provider pin, the service list it is trimmed to and the source of the trimming (not of
# `check`, which changes no binary), since each of the three changes the binary.
aws_provider_dir() {
  local key tool=$REPO_ROOT/airgap/awsprovider
  # shellcheck disable=SC2086 # the service list is one word per service
  key=$( { printf '%s\n' "$TF_PROVIDER_AWS_PSEUDO" $TF_PROVIDER_AWS_SERVICES
           cat "$tool"/go.mod "$tool"/go.sum "$tool"/main.go "$tool"/trim.go; } | sha256sum | cut -c1-12)
  echo "$CACHE_ROOT/tf-provider-aws-$TF_PROVIDER_AWS_VERSION-$key"
}

# aws_provider_bin prints the provider binary's path inside aws_provider_dir.
aws_provider_bin() {
  echo "$(aws_provider_dir)/terraform-provider-aws_v${TF_PROVIDER_AWS_VERSION}_x5"
}

# example_overlays DEST copies kustomize/'s manifests to DEST and writes each overlay's
# terraform-outputs.yaml from kustomize/testdata/tofu-output/ENV.json (example outputs in
# the shape of `tofu output -json`), through the renderer deploy uses (kustomize/tfoutputs).
# The committed overlays carry no Terraform values, so this is how the suites build them.
example_overlays() {
  local dest=$1 d env
  mkdir -p "$dest"
  cp -r "$REPO_ROOT/kustomize/base" "$REPO_ROOT/kustomize/components" "$REPO_ROOT/kustomize/overlays" "$dest/"
  (cd "$REPO_ROOT/kustomize" && go build -o "$dest/terraform-outputs" ./cmd/terraform-outputs) || return 1
  for d in "$dest"/overlays/*/; do
    env=$(basename "$d")
    "$dest/terraform-outputs" < "$REPO_ROOT/kustomize/testdata/tofu-output/$env.json" > "$d/terraform-outputs.yaml" ||
      { log "example outputs of $env refused"; return 1; }
  done
}

# checkout_copy DEST copies this checkout to DEST as `dagger call` uploads it: the same
# files with the same metadata, extended attributes included (the Dagger CLI stamps
# dagger.json and ci/go.* with a user.daggerContentHash xattr, which is part of a
# directory's digest), without .git and the pipeline's generated SDK. A change made to the
# copy is then the only difference the engine sees, and the steps it does not reach come
# from the engine's cache. Prints DEST.
checkout_copy() {
  mkdir -p "$1"
  tar -C "$REPO_ROOT" --exclude=./.git --exclude=./ci/internal/dagger --exclude=./ci/internal/querybuilder \
    --exclude=./ci/internal/telemetry --exclude=./ci/dagger.gen.go --xattrs --xattrs-include='*' -cf - . |
    tar -C "$1" --xattrs --xattrs-include='*' -xpf - || return 1
  echo "$1"
}
