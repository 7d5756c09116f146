#!/usr/bin/env bash
# airgap/sign-tools.sh installs what signs and verifies the pipeline's images offline:
# cosign (github.com/sigstore/cosign/v2), built from the Go module proxy.
#
#   eval "$(airgap/sign-tools.sh)"   # sets COSIGN (the binary's path)
#
# Built in a copy of the module with its own go.sum (not `go install m@v`, which first asks
# the proxy for the module's version list, refused for many modules here), with the
# release's version ldflag so `cosign version` names the pin. Cold: see docs/pipeline.md
# (measured CPU-minutes); airgap/prebuild.sh builds it in the background at nice 19.
#
# Logs go to stderr; stdout is only `export ...` lines. The binary lands in
# ~/.cache/cosign-<version> behind a lock and a .complete stamp, so a warm run builds
# nothing and the prebuild may run this beside a suite.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

command -v go >/dev/null || die "go is required to build cosign"
renice -n "${BUILD_NICE:-10}" -p $$ >/dev/null 2>&1 || true

COSIGN_DIR=$CACHE_ROOT/cosign-$COSIGN_VERSION
mkdir -p "$CACHE_ROOT"
exec {cs_lock}>"$COSIGN_DIR.lock"
flock "$cs_lock"
if [ ! -f "$COSIGN_DIR/.complete" ]; then
  log "building cosign $COSIGN_VERSION from the Go module proxy (cached in $COSIGN_DIR)"
  src=$(go mod download -json "github.com/sigstore/cosign/v2@$COSIGN_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$src" ] && [ -d "$src" ] || die "go mod download github.com/sigstore/cosign/v2@$COSIGN_VERSION failed"
  rm -rf "$COSIGN_DIR"; mkdir -p "$COSIGN_DIR/bin"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath \
     -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
     -o "$COSIGN_DIR/bin/cosign" ./cmd/cosign) >&2 \
    || { rm -rf "$COSIGN_DIR"; die "cosign build failed"; }
  touch "$COSIGN_DIR/.complete"
fi
exec {cs_lock}>&-
cache_used "$COSIGN_DIR"
[ -x "$COSIGN_DIR/bin/cosign" ] || die "$COSIGN_DIR/bin/cosign missing after install"
echo "export COSIGN=$COSIGN_DIR/bin/cosign"
