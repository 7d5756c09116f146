#!/usr/bin/env bash
# build.sh builds everything the offline engine needs, once per pin, into
# ~/.cache/dagger-<DAGGER_VERSION>:
#
#   binaries  dagger CLI, engine, dagger-init, dnsname CNI plugin and codegen, compiled from
#             github.com/dagger/dagger at the pinned version (the only slow part: ~17 min
#             on 2 busy cores)
#   tools     txv-oci: the local registry and image assembler in this directory
#   images    a debootstrap Debian rootfs and the images of images.env as OCI layouts
#   tool-images  one image per pipeline tool (tofu with its provider mirror, tflint with the
#             AWS ruleset, trivy, kubeconform with its schemas, kustomize, actionlint,
#             kubectl) from the binaries the airgap/ scripts build into ~/.cache
#
#   airgap/dagger/build.sh [binaries|tools|images|tool-images]...   # default: all four
#
# Each stage ends by writing a .complete stamp; a stage with a stamp is skipped, so re-runs
# cost seconds. Delete the stage's directory to force a rebuild. Needs root (apt,
# debootstrap, chroot).
set -euo pipefail
. "$(dirname "$0")/common.sh"

export GOSUMDB=off   # the module proxy is reachable; sum.golang.org is not

build_binaries() {
  local out=$DAGGER_BIN src=$DAGGER_CACHE/src
  [ -f "$out/.complete" ] && { cache_used "$out"; log "binaries: cached in $out"; return 0; }
  log "binaries: dagger $DAGGER_VERSION from source (cold: ~17 min on 2 loaded cores)"
  # The module zip lacks its nested modules, which go.mod replaces with ./sdk/go and
  # ./engine/distconsts; supply them before building.
  if [ ! -f "$src/.complete" ]; then
    module_src "github.com/dagger/dagger@$DAGGER_VERSION" "$src"
    module_src "dagger.io/dagger@$DAGGER_VERSION" "$src/sdk/go"
    rm -rf "$src/engine/distconsts"; cp -r "$DAGGER_HERE/distconsts" "$src/engine/distconsts"
    touch "$src/.complete"
  fi
  mkdir -p "$out.tmp"
  local ldflags="-s -w -X github.com/dagger/dagger/engine.Version=$DAGGER_VERSION -X github.com/dagger/dagger/engine.Tag=$DAGGER_VERSION"
  # One go invocation so the packages shared by CLI and engine compile once. Static
  # (CGO_ENABLED=0): dagger-init is bind-mounted into containers of any libc, and the others
  # then run on any host.
  (cd "$src" && CGO_ENABLED=0 GOCACHE=$DAGGER_GOCACHE GOFLAGS="$GOFLAGS -mod=mod" \
    nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" \
      ./cmd/dagger ./cmd/engine ./cmd/init ./cmd/dnsname ./cmd/codegen)
  mv "$out.tmp/engine" "$out.tmp/dagger-engine"
  mv "$out.tmp/init" "$out.tmp/dagger-init"
  rm -rf "$out"; mv "$out.tmp" "$out"
  touch "$out/.complete"
  # The module copy and the build cache serve a rebuild only; being stamped now and never
  # again, they are the first to go when airgap/cache-gc.sh needs room (several GB).
  cache_used "$out" "$src" "$DAGGER_GOCACHE"
  du -sh "$out"/* >&2
}

build_tools() {
  local out=$DAGGER_CACHE/tools-$GO_CONTAINERREGISTRY_VERSION
  [ -f "$out/.complete" ] && [ "$(cat "$out/.src-hash")" = "$(tools_src_hash)" ] &&
    { cache_used "$out"; log "tools: cached in $out"; return 0; }
  log "tools: txv-oci (registry + image assembler)"
  mkdir -p "$out"
  # Built beside and renamed over: the running registry may be executing the old binary,
  # which cannot be overwritten in place (ETXTBSY).
  (cd "$DAGGER_HERE" && GOFLAGS="$GOFLAGS -mod=readonly" nice -n 10 go build -trimpath -o "$out/txv-oci.new" ./cmd/txv-oci)
  mv "$out/txv-oci.new" "$out/txv-oci"
  tools_src_hash > "$out/.src-hash"
  touch "$out/.complete"
  cache_used "$out"
}

# The tool is this repository's own code, so its cache key is its source, not a pin.
tools_src_hash() {
  cat "$DAGGER_HERE/go.mod" "$DAGGER_HERE/go.sum" "$DAGGER_HERE"/cmd/txv-oci/*.go | sha256sum | cut -c1-16
}

# tar_dir DIR OUT: a layer tarball of DIR's content with numeric owners, as an image needs.
tar_dir() {
  tar -C "$1" --numeric-owner --xattrs -cf "$2" .
}

# debian_with NAME PKG...: a copy of the debootstrapped tree at $ROOTFS_CACHE/NAME with PKG...
# installed by apt in a chroot, once (stamp NAME.complete). Network: the Debian mirror.
debian_with() {
  local name=$1 work=$ROOTFS_CACHE; shift
  local fs=$work/$name
  [ -f "$fs.complete" ] && return 0
  log "images: $name (Debian + $*)"
  rm -rf "$fs"; cp -a "$work/rootfs" "$fs"
  cp /etc/resolv.conf "$fs/etc/resolv.conf"
  printf 'deb %s %s main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE" >"$fs/etc/apt/sources.list"
  if ! { chroot "$fs" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive nice -n 10 chroot "$fs" apt-get install -y -qq --no-install-recommends "$@"
       } >"$work/$name-apt.log" 2>&1; then
    tail -20 "$work/$name-apt.log" >&2; die "apt in the $name tree failed (log: $work/$name-apt.log)"
  fi
  chroot "$fs" apt-get clean
  rm -rf "$fs"/var/lib/apt/lists/*
  : >"$fs/etc/resolv.conf"
  touch "$fs.complete"
}

build_images() {
  local out oci
  out=$(images_key); oci=$DAGGER_TOOLS/txv-oci
  [ -x "$oci" ] || die "images need the tools stage first (txv-oci)"
  [ -f "$out/.complete" ] && { cache_used "$out" "$ROOTFS_CACHE"; log "images: cached in $out"; return 0; }
  mkdir -p "$out"
  local work=$ROOTFS_CACHE; mkdir -p "$work"

  # Debian from debootstrap: the only input that comes from the network (the Debian mirror).
  local rootfs=$work/rootfs
  if [ ! -f "$rootfs.complete" ]; then
    log "images: debootstrap --variant=minbase $DEBIAN_SUITE (~3 min)"
    rm -rf "$rootfs"
    nice -n 10 debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # Same as the official image: containers get resolv.conf and hosts from the engine.
    : >"$rootfs/etc/resolv.conf"
    touch "$rootfs.complete"
  fi

  # The Go SDK runtime also needs git and ssh (codegen runs `go mod tidy`, which may fetch
  # private modules over git), installed into a copy so the plain Debian image stays minimal.
  debian_with gosdk-rootfs git openssh-client ca-certificates
  local sdkfs=$work/gosdk-rootfs
  # golang: what the official golang:*-bookworm image has on top of Debian (its
  # buildpack-deps:bookworm-scm base plus the compilers), so cgo and `go test -race` work.
  debian_with golang-rootfs ca-certificates curl git openssh-client procps netbase \
    gcc g++ libc6-dev make pkg-config
  local golangfs=$work/golang-rootfs

  [ -x "$DAGGER_BIN/codegen" ] || die "images need the binaries stage first (codegen)"
  log "images: layers"
  local layers=$out/layers; rm -rf "$layers"; mkdir -p "$layers"
  tar_dir "$rootfs" "$layers/debian.tar"
  tar_dir "$sdkfs" "$layers/gosdk-rootfs.tar"
  tar_dir "$golangfs" "$layers/golang-rootfs.tar"
  # The host's Go, at the path the official golang image uses.
  tar -C "$(go env GOROOT)" --numeric-owner --transform 's|^\.|usr/local/go|' -cf "$layers/go.tar" .
  # The SDK mounts its caches over /go/pkg/mod and /root/.cache/go-build, and reads them
  # from the image first: they must exist, even empty.
  local extra=$out/codegen
  rm -rf "$extra"; mkdir -p "$extra/usr/local/bin" "$extra/go/bin" "$extra/go/pkg/mod" "$extra/root/.cache/go-build"
  install -m 0755 "$DAGGER_BIN/codegen" "$extra/usr/local/bin/codegen"
  tar_dir "$extra" "$layers/codegen.tar"
  # distroless/static's layout, from files Debian already gave us.
  local static=$out/static-rootfs; rm -rf "$static"
  mkdir -p "$static/etc/ssl/certs" "$static/usr/share" "$static/tmp" "$static/home/nonroot" "$static/root"
  chmod 1777 "$static/tmp"; chmod 0700 "$static/root"; chown 65532:65532 "$static/home/nonroot"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$static/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$static/etc/group"
  cp "$sdkfs/etc/ssl/certs/ca-certificates.crt" "$static/etc/ssl/certs/"
  cp -a "$rootfs/usr/share/zoneinfo" "$static/usr/share/"
  cp -L "$rootfs/etc/os-release" "$static/etc/os-release"
  tar_dir "$static" "$layers/static.tar"

  local path_debian=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  local path_go=PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -rf "$out/debian" "$out/golang" "$out/gosdk" "$out/static"
  log "images: assembling OCI layouts"
  nice -n 10 "$oci" assemble -out "$out/debian" -layer "$layers/debian.tar" -env "$path_debian" -cmd bash >/dev/null
  nice -n 10 "$oci" assemble -out "$out/golang" -layer "$layers/golang-rootfs.tar" -layer "$layers/go.tar" \
    -cmd bash -env "$path_go" -env GOPATH=/go -env GOTOOLCHAIN=local -workdir /go >/dev/null
  nice -n 10 "$oci" assemble -out "$out/gosdk" -layer "$layers/gosdk-rootfs.tar" -layer "$layers/go.tar" \
    -layer "$layers/codegen.tar" -env "$path_go" -env GOPATH=/go -env GOTOOLCHAIN=local >/dev/null
  nice -n 10 "$oci" assemble -out "$out/static" -layer "$layers/static.tar" \
    -env PATH=/usr/local/bin:/usr/bin:/bin -env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    -user 65532:65532 -workdir /home/nonroot >/dev/null
  rm -rf "$layers" "$extra" "$static"
  du -sh "$out"/debian "$out"/golang "$out"/gosdk "$out"/static >&2
  touch "$out/.complete"
  cache_used "$out" "$ROOTFS_CACHE"
}

# ---- tool images ----------------------------------------------------------------------------
# The tool binaries in ~/.cache are Go programs built with cgo on (the default), so they link
# glibc dynamically: they need a Debian userland, not the static base (which has no libc).
# All tool images therefore share one base layer: the debootstrap tree plus CA certificates,
# the shellcheck package (actionlint runs it on `run:` scripts) and the distroless-style nonroot user
# (65532) with a writable home, where HOME and the working directory point (tofu, tflint and
# trivy write there). Each image adds one layer with its tool; the base blob is stored once.

# tool_put SRC DEST: DEST gets SRC's content, hard-linked when possible (the cache is on the
# same file system), so the AWS provider is not copied to be put into a tarball.
tool_put() {
  mkdir -p "$(dirname "$2")"
  ln "$1" "$2" 2>/dev/null || cp "$1" "$2"
}

# ensure_tool_binaries: the tools, built by the scripts that own them when missing (no-ops
# when warm: file tests only). Sets KUSTOMIZE KUBECONFORM TRIVY K8S_SCHEMAS and the paths below.
ensure_tool_binaries() {
  eval "$(nice -n 10 "$REPO_ROOT/airgap/manifest-tools.sh")"
  TOFU_BIN=$CACHE_ROOT/tofu-$TOFU_VERSION/bin/tofu
  TFLINT_BIN=$CACHE_ROOT/tflint-$TFLINT_VERSION/bin/tflint
  RULESET_BIN=$CACHE_ROOT/tflint-ruleset-aws-$TFLINT_RULESET_AWS_VERSION/bin/tflint-ruleset-aws
  RANDOM_DIR=$CACHE_ROOT/tf-provider-random-$TF_PROVIDER_RANDOM_PSEUDO
  TLS_DIR=$CACHE_ROOT/tf-provider-tls-$TF_PROVIDER_TLS_PSEUDO
  AWS_BIN=$(aws_provider_bin)
  KUBECTL_BIN=$CACHE_ROOT/k8s-$KUBERNETES_VERSION/bin/kubectl
  if [ ! -x "$TOFU_BIN" ] || [ ! -x "$TFLINT_BIN" ] || [ ! -x "$RULESET_BIN" ] ||
     [ ! -f "$RANDOM_DIR/.complete" ] || [ ! -f "$TLS_DIR/.complete" ] || [ ! -x "$AWS_BIN" ]; then
    log "tool-images: building the IaC tools (airgap/iac-tools.sh)"
    nice -n 10 "$REPO_ROOT/airgap/iac-tools.sh" >/dev/null
  fi
  if [ ! -x "$KUBECTL_BIN" ]; then
    log "tool-images: building kubectl (airgap/k8s/build.sh: the whole control plane, ~25 CPU-min cold)"
    nice -n 10 "$REPO_ROOT/airgap/k8s/build.sh" >/dev/null
  fi
  ACTIONLINT_BIN=$(ensure_go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint -ldflags "-s -w")/actionlint
  VERSITYGW_BIN=$(versitygw_bin) || die "tool-images: building versitygw failed"
  PROMTOOL_BIN=$(promtool_bin) || die "tool-images: building promtool failed"
  eval "$(nice -n 10 "$REPO_ROOT/airgap/sign-tools.sh")"   # COSIGN
  GITLEAKS_BIN=$(gitleaks_bin) || die "tool-images: building gitleaks failed"
  local b
  for b in "$TOFU_BIN" "$AWS_BIN" "$TFLINT_BIN" "$RULESET_BIN" "$TRIVY" "$KUBECONFORM" "$KUSTOMIZE" "$KUBECTL_BIN" "$ACTIONLINT_BIN" \
           "$VERSITYGW_BIN" "$PROMTOOL_BIN" "$COSIGN" "$GITLEAKS_BIN"; do
    [ -x "$b" ] || die "tool-images: $b missing after building it"
  done
  [ -d "$K8S_SCHEMAS/$KUBERNETES_VERSION-standalone-strict" ] || die "tool-images: no schemas in $K8S_SCHEMAS"
}

build_tool_images() {
  local oci=$DAGGER_TOOLS/txv-oci
  [ -x "$oci" ] || die "tool images need the tools stage first (txv-oci)"
  [ -f "$ROOTFS_CACHE/rootfs.complete" ] || die "tool images need the images stage first (debootstrap)"
  ensure_tool_binaries
  local out; out=$(tool_images_key)
  if [ -f "$out/.complete" ]; then
    echo "$out" >"$TOOL_IMAGES_CURRENT"
    cache_used "$out" "$ROOTFS_CACHE"
    log "tool-images: cached in $out"; return 0
  fi
  log "tool-images: into $out"
  mkdir -p "$out"; tool_image_pins >"$out/pins"

  debian_with tools-rootfs ca-certificates shellcheck
  local basefs=$ROOTFS_CACHE/tools-rootfs
  grep -q '^nonroot:' "$basefs/etc/passwd" ||
    chroot "$basefs" useradd --uid 65532 --user-group --no-log-init --create-home \
      --home-dir /home/nonroot --shell /bin/bash nonroot

  local layers=$out/layers; mkdir -p "$layers"
  local path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  if [ ! -f "$out/base/index.json" ]; then
    rm -rf "$out/base"
    tar_dir "$basefs" "$layers/base.tar"
    nice -n 10 "$oci" assemble -out "$out/base" -layer "$layers/base.tar" -env "$path" \
      -env HOME=/home/nonroot -user 65532:65532 -workdir /home/nonroot -cmd bash >/dev/null
    rm -f "$layers/base.tar"
  fi

  local t
  for t in $TOOL_IMAGES; do
    [ -f "$out/$t/index.json" ] && { log "tool-images: $t cached"; continue; }
    rm -rf "${out:?}/$t" "$out/$t.tmp" "${layers:?}/$t"
    local fs=$layers/$t version source extra=()
    mkdir -p "$fs/usr/local/bin"
    case $t in
      tofu)
        version=$TOFU_VERSION source=https://github.com/opentofu/opentofu
        tool_put "$TOFU_BIN" "$fs/usr/local/bin/tofu"
        # The filesystem mirror as airgap/iac-tools.sh lays it out: every provider under both
        # registry hosts (OpenTofu resolves hashicorp/* to registry.opentofu.org, Terraform
        # to registry.terraform.io), real directories, the binaries hard-linked (one copy).
        local mirror=$fs/usr/local/share/opentofu/mirror host p v bin provs=()
        for p in aws random tls; do
          case $p in
            aws) v=$TF_PROVIDER_AWS_VERSION bin=$AWS_BIN ;;
            random) v=$(cat "$RANDOM_DIR/.version") bin=$RANDOM_DIR/terraform-provider-random_v${v}_x5 ;;
            tls) v=$(cat "$TLS_DIR/.version") bin=$TLS_DIR/terraform-provider-tls_v${v}_x5 ;;
          esac
          [ -x "$bin" ] || die "tool-images: provider $p missing at $bin"
          for host in registry.opentofu.org registry.terraform.io; do
            tool_put "$bin" "$mirror/$host/hashicorp/$p/$v/linux_amd64/$(basename "$bin")"
          done
          provs+=("hashicorp/$p $v")
        done
        mkdir -p "$fs/etc/opentofu"
        # Only the mirror is listed, so tofu never tries a registry.
        cat >"$fs/etc/opentofu/mirror.tfrc" <<'TFRC'
provider_installation {
  filesystem_mirror {
    path    = "/usr/local/share/opentofu/mirror"
    include = ["registry.terraform.io/*/*", "registry.opentofu.org/*/*"]
  }
}
disable_checkpoint = true
TFRC
        extra=(-env TF_CLI_CONFIG_FILE=/etc/opentofu/mirror.tfrc -env CHECKPOINT_DISABLE=1
               -label "io.txv.opentofu.providers=$(IFS=,; echo "${provs[*]}")") ;;
      tflint)
        version=$TFLINT_VERSION source=https://github.com/terraform-linters/tflint
        tool_put "$TFLINT_BIN" "$fs/usr/local/bin/tflint"
        # Flat plugin dir, as airgap/iac-tools.sh uses it: infra/.tflint.hcl enables "aws"
        # without source/version, so tflint looks for tflint-ruleset-aws right here.
        tool_put "$RULESET_BIN" "$fs/usr/local/share/tflint/plugins/tflint-ruleset-aws"
        extra=(-env TFLINT_PLUGIN_DIR=/usr/local/share/tflint/plugins
               -label "io.txv.tflint.ruleset-aws=${TFLINT_RULESET_AWS_VERSION#v}") ;;
      trivy)
        version=$TRIVY_VERSION source=https://github.com/aquasecurity/trivy
        tool_put "$TRIVY" "$fs/usr/local/bin/trivy" ;;
      kubeconform)
        version=$KUBECONFORM_VERSION source=https://github.com/yannh/kubeconform
        tool_put "$KUBECONFORM" "$fs/usr/local/bin/kubeconform"
        # airgap/k8sschema's layout, the schemas suite 30 validates against.
        mkdir -p "$fs/schemas"
        cp -a "$K8S_SCHEMAS/$KUBERNETES_VERSION-standalone-strict" "$K8S_SCHEMAS/crds" "$fs/schemas/"
        extra=(-label "io.txv.kubeconform.schemas=$(basename "$K8S_SCHEMAS")") ;;
      kustomize)
        version=$KUSTOMIZE_VERSION source=https://github.com/kubernetes-sigs/kustomize
        tool_put "$KUSTOMIZE" "$fs/usr/local/bin/kustomize" ;;
      actionlint)
        version=$ACTIONLINT_VERSION source=https://github.com/rhysd/actionlint
        tool_put "$ACTIONLINT_BIN" "$fs/usr/local/bin/actionlint" ;;
      kubectl)
        version=$KUBERNETES_VERSION source=https://github.com/kubernetes/kubernetes
        tool_put "$KUBECTL_BIN" "$fs/usr/local/bin/kubectl" ;;
      versitygw)
        version=$VERSITYGW_VERSION source=https://github.com/versity/versitygw
        tool_put "$VERSITYGW_BIN" "$fs/app/versitygw" ;;
      prometheus)
        # promtool only, at the upstream image's /bin/promtool: the base is merged-/usr (/bin
        # is a symlink to usr/bin), so the layer must not carry a bin/ directory of its own.
        version=$PROMETHEUS_VERSION source=https://github.com/prometheus/prometheus
        tool_put "$PROMTOOL_BIN" "$fs/usr/bin/promtool"
        extra=(-label "io.txv.prometheus.content=promtool only") ;;
      cosign)
        version=$COSIGN_VERSION source=https://github.com/sigstore/cosign
        tool_put "$COSIGN" "$fs/usr/local/bin/cosign" ;;
      gitleaks)
        # At the upstream image's /usr/bin/gitleaks (the base is merged-/usr, like promtool's
        # layer): the pipeline copies it from there into the golang image (ci/secrets.go).
        version=$GITLEAKS_VERSION source=https://github.com/gitleaks/gitleaks
        tool_put "$GITLEAKS_BIN" "$fs/usr/bin/gitleaks" ;;
      *) die "tool-images: no recipe for $t (add one in build.sh)" ;;
    esac
    log "tool-images: $t $version"
    tar_dir "$fs" "$layers/$t.tar"
    rm -rf "$fs"
    nice -n 10 "$oci" assemble -out "$out/$t" -base "$out/base" -layer "$layers/$t.tar" \
      -label "org.opencontainers.image.title=$t" -label "org.opencontainers.image.version=${version#v}" \
      -label "org.opencontainers.image.source=$source" \
      -label "org.opencontainers.image.description=$t ${version#v}, built offline from the Go module proxy by airgap/dagger/build.sh" \
      -label "org.opencontainers.image.base.name=$IMAGE_DEBIAN" \
      "${extra[@]}" >/dev/null
    rm -f "$layers/$t.tar"
    # Each layout holds its own copy of the base layer: hard-link it to the base's (60 MB each).
    local b
    for b in "$out/base"/blobs/sha256/*; do
      if [ -f "$out/$t/blobs/sha256/${b##*/}" ]; then ln -f "$b" "$out/$t/blobs/sha256/${b##*/}"; fi
    done
  done
  rm -rf "$layers"
  echo "$out" >"$TOOL_IMAGES_CURRENT"
  du -sh "$out"/* 2>/dev/null | grep -v pins >&2
  touch "$out/.complete"
  cache_used "$out" "$ROOTFS_CACHE"
}

stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(binaries tools images tool-images)
mkdir -p "$DAGGER_CACHE"
# One builder at a time (a suite and a background prebuild may both ask): the second waits,
# then finds the first one's stages done.
exec 9>"$DAGGER_CACHE.lock"
flock 9
cache_used "$DAGGER_CACHE"
for s in "${stages[@]}"; do
  case $s in
    binaries) build_binaries ;;
    tools) build_tools ;;
    images) build_images ;;
    tool-images) build_tool_images ;;
    *) die "unknown stage $s" ;;
  esac
done
