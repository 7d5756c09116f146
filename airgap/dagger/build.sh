#!/usr/bin/env bash
# build.sh builds everything the offline engine needs, once per pin, into
# ~/.cache/dagger-<DAGGER_VERSION>:
#
#   binaries  dagger CLI, engine, dagger-init, dnsname CNI plugin and codegen, compiled from
#             github.com/dagger/dagger at the pinned version (the only slow part: ~17 min
#             on 2 busy cores)
#   tools     txv-oci: the local registry and image assembler in this directory
#   images    a debootstrap Debian rootfs and the images of images.env as OCI layouts
#
#   airgap/dagger/build.sh [binaries|tools|images]...   # default: all three
#
# Each stage ends by writing a .complete stamp; a stage with a stamp is skipped, so re-runs
# cost seconds. Delete the stage's directory to force a rebuild. Needs root (apt,
# debootstrap, chroot).
set -euo pipefail
. "$(dirname "$0")/common.sh"

export GOSUMDB=off   # the module proxy is reachable; sum.golang.org is not

build_binaries() {
  local out=$DAGGER_BIN src=$DAGGER_CACHE/src
  [ -f "$out/.complete" ] && { log "binaries: cached in $out"; return 0; }
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
  du -sh "$out"/* >&2
}

build_tools() {
  local out=$DAGGER_CACHE/tools-$GO_CONTAINERREGISTRY_VERSION
  [ -f "$out/.complete" ] && [ "$(cat "$out/.src-hash")" = "$(tools_src_hash)" ] &&
    { log "tools: cached in $out"; return 0; }
  log "tools: txv-oci (registry + image assembler)"
  mkdir -p "$out"
  (cd "$DAGGER_HERE" && GOFLAGS="$GOFLAGS -mod=readonly" nice -n 10 go build -trimpath -o "$out/txv-oci" ./cmd/txv-oci)
  tools_src_hash > "$out/.src-hash"
  touch "$out/.complete"
}

# The tool is this repository's own code, so its cache key is its source, not a pin.
tools_src_hash() {
  cat "$DAGGER_HERE/go.mod" "$DAGGER_HERE/go.sum" "$DAGGER_HERE"/cmd/txv-oci/*.go | sha256sum | cut -c1-16
}

# tar_dir DIR OUT: a layer tarball of DIR's content with numeric owners, as an image needs.
tar_dir() {
  tar -C "$1" --numeric-owner --xattrs -cf "$2" .
}

build_images() {
  local out oci
  out=$(images_key); oci=$DAGGER_TOOLS/txv-oci
  [ -x "$oci" ] || die "images need the tools stage first (txv-oci)"
  [ -f "$out/.complete" ] && { log "images: cached in $out"; return 0; }
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
  local sdkfs=$work/gosdk-rootfs
  if [ ! -f "$sdkfs.complete" ]; then
    log "images: Go SDK rootfs (Debian + git, openssh-client, ca-certificates)"
    rm -rf "$sdkfs"; cp -a "$rootfs" "$sdkfs"
    cp /etc/resolv.conf "$sdkfs/etc/resolv.conf"
    sed "s|@MIRROR@|$DEBIAN_MIRROR|; s|@SUITE@|$DEBIAN_SUITE|" >"$sdkfs/etc/apt/sources.list" <<'LIST'
deb @MIRROR@ @SUITE@ main
LIST
    chroot "$sdkfs" apt-get update -qq >"$work/gosdk-apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive nice -n 10 chroot "$sdkfs" apt-get install -y -qq --no-install-recommends \
        git openssh-client ca-certificates >>"$work/gosdk-apt.log" 2>&1 ||
      { tail -20 "$work/gosdk-apt.log" >&2; die "apt in the Go SDK rootfs failed"; }
    chroot "$sdkfs" apt-get clean
    rm -rf "$sdkfs"/var/lib/apt/lists/*
    : >"$sdkfs/etc/resolv.conf"
    touch "$sdkfs.complete"
  fi

  [ -x "$DAGGER_BIN/codegen" ] || die "images need the binaries stage first (codegen)"
  log "images: layers"
  local layers=$out/layers; rm -rf "$layers"; mkdir -p "$layers"
  tar_dir "$rootfs" "$layers/debian.tar"
  tar_dir "$sdkfs" "$layers/gosdk-rootfs.tar"
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
  nice -n 10 "$oci" assemble -out "$out/golang" -base "$out/debian" -layer "$layers/go.tar" \
    -env "$path_go" -env GOPATH=/go -env GOTOOLCHAIN=local -workdir /go >/dev/null
  nice -n 10 "$oci" assemble -out "$out/gosdk" -layer "$layers/gosdk-rootfs.tar" -layer "$layers/go.tar" \
    -layer "$layers/codegen.tar" -env "$path_go" -env GOPATH=/go -env GOTOOLCHAIN=local >/dev/null
  nice -n 10 "$oci" assemble -out "$out/static" -layer "$layers/static.tar" \
    -env PATH=/usr/local/bin:/usr/bin:/bin -env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    -user 65532:65532 -workdir /home/nonroot >/dev/null
  rm -rf "$layers" "$extra" "$static"
  du -sh "$out"/debian "$out"/golang "$out"/gosdk "$out"/static >&2
  touch "$out/.complete"
}

stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(binaries tools images)
mkdir -p "$DAGGER_CACHE"
for s in "${stages[@]}"; do
  case $s in
    binaries) build_binaries ;;
    tools) build_tools ;;
    images) build_images ;;
    *) die "unknown stage $s" ;;
  esac
done
