#!/usr/bin/env bash
# airgap/sign-tools.sh installs what signs and verifies the pipeline's images offline:
# cosign (github.com/sigstore/cosign/v2), built from the Go module proxy.
#
#   eval "$(airgap/sign-tools.sh)"         # sets COSIGN (the binary's path)
#   eval "$(airgap/sign-tools.sh --key)"   # also COSIGN_KEY, COSIGN_PUB, COSIGN_PASSWORD_FILE
#
# --key: the air-gapped site's signing key pair, generated once into the airgap state
# ($AIRGAP_STATE/signing, mode 0700): cosign.key (encrypted with the password in
# cosign.password, 0600) and cosign.pub. The pipeline takes the key and its password as
# Dagger secrets (sign --signing-key=file:... --signing-password=file:...) and deploy the
# public key (--signed-by). Online the key is an AWS KMS key instead (sign --kms-key).
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
  if [ -z "$src" ] || [ ! -d "$src" ]; then die "go mod download github.com/sigstore/cosign/v2@$COSIGN_VERSION failed"; fi
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

[ "${1:-}" = --key ] || exit 0
KEY_DIR=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/signing
mkdir -p "$KEY_DIR"; chmod 700 "$KEY_DIR"
exec {key_lock}>"$KEY_DIR/.lock"
flock "$key_lock"
if [ ! -f "$KEY_DIR/cosign.pub" ]; then
  log "generating the offline signing key pair in $KEY_DIR"
  rm -f "$KEY_DIR/cosign.key" "$KEY_DIR/cosign.password"
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n' >"$KEY_DIR/cosign.password")
  (cd "$KEY_DIR" && COSIGN_PASSWORD=$(cat cosign.password) "$COSIGN_DIR/bin/cosign" generate-key-pair \
     --output-key-prefix cosign >&2) || { rm -f "$KEY_DIR"/cosign.*; die "cosign generate-key-pair failed"; }
  chmod 600 "$KEY_DIR/cosign.key" "$KEY_DIR/cosign.password"
fi
exec {key_lock}>&-
cat <<EOF
export COSIGN_KEY=$KEY_DIR/cosign.key
export COSIGN_PUB=$KEY_DIR/cosign.pub
export COSIGN_PASSWORD_FILE=$KEY_DIR/cosign.password
EOF
