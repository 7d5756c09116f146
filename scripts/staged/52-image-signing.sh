#!/usr/bin/env bash
# Suite 52: build once, sign, attest, deploy only that (ci/sign.go), end to end on the
# offline Dagger engine and its local registry ($REGISTRY_ADDR), with the air-gapped key
# pair of airgap/sign-tools.sh --key:
#   1. `sign` builds the validator's image, scans it, pushes it and signs and attests its
#      digest; the scan attestation's subject is that digest;
#   2. `publish` copies it to another repository: the published digest equals the signed
#      and scanned one, and it verifies there (verify-image);
#   3. deploy's verification refuses, before anything touches a cluster (the kubeconfig
#      it is given points nowhere), with a clear message each:
#        a tampered image (another digest carrying the original's signature),
#        an unsigned image,
#        a signed image without any scan attestation,
#        a signed image whose scan attestation says "failed".
#      The images of 3. are the signed one's manifest with one annotation changed (a new
#      digest, the same layers), pushed and signed on the host with the same key.
#
# Needs root and the engine, like suites 45 and 50; starts the engine if it is not running
# and stops only what it started.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=/dev/null
. "$REPO_ROOT/airgap/dagger/common.sh"
cd "$REPO_ROOT"

skip() { printf '\n!!!!! SKIP 52-image-signing: %s\n\n' "$*"; exit 3; }
[ "$(id -u)" -eq 0 ] || skip "needs root (the offline Dagger engine); run as root"
command -v curl >/dev/null || skip "needs curl (to tamper with manifests in the local registry)"

work=$(mktemp -d "${TMPDIR:-/tmp}/signing.XXXXXX")
engine_started=0
cleanup() {
  local rc=$?
  [ $engine_started = 0 ] || airgap/dagger/down.sh >/dev/null 2>&1 || true
  if [ $rc != 0 ]; then log "suite 52 failed; its logs are kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { log "suite 52: $*"; }

eval "$(airgap/sign-tools.sh --key)"
airgap/dagger/status.sh >/dev/null 2>&1 || { airgap/dagger/up.sh >&2; engine_started=1; }
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
dc() { dagger --progress=plain call --airgapped "$@"; }
tunnel="tcp://$REGISTRY_ADDR"
# Repositories no other suite uses; a fixed version, so a re-run reuses the engine's build
# (a digest signed again just gains a signature). run_id keeps the tampered tags apart.
run_id=$(date +%s)-$$
candidates="$REGISTRY_ADDR/txv-signing/candidates"
releases="$REGISTRY_ADDR/txv-signing/releases"
scan_type=https://transaction-validator.dev/attestations/image-scan/v1

# ---- 1. sign -------------------------------------------------------------------------------
step "sign: build once, scan, push, sign, attest"
t=$SECONDS
signed=$(dc sign --repository="$candidates" --version=e2e-signing \
  --signing-key="file:$COSIGN_KEY" --signing-password="file:$COSIGN_PASSWORD_FILE" \
  --registry="$tunnel" 2>"$work/sign.log" | tail -1) || { tail -40 "$work/sign.log"; die "sign failed"; }
[[ $signed == "$candidates@sha256:"* ]] || { tail -20 "$work/sign.log"; die "sign printed '$signed', want $candidates@sha256:..."; }
digest=${signed#*@}
step "signed $signed in $((SECONDS - t)) s"
cs() { "$COSIGN" "$@" --allow-http-registry; }
cs verify --insecure-ignore-tlog --key "$COSIGN_PUB" "$signed" >/dev/null 2>"$work/verify-host.log" ||
  { cat "$work/verify-host.log"; die "the signed image does not verify on the host with the public key"; }
subject() { # REF: the sha256 the scan attestation of REF is about
  cs verify-attestation --insecure-ignore-tlog --key "$COSIGN_PUB" --type "$scan_type" "$1" 2>/dev/null |
    jq -r '.payload | @base64d | fromjson | .subject[0].digest.sha256' | head -1
}
[ "$(subject "$signed")" = "${digest#sha256:}" ] || die "the scan attestation is not about the signed digest $digest"

# ---- 2. publish ----------------------------------------------------------------------------
step "publish: copy, no rebuild"
t=$SECONDS
published=$(dc publish --image="$signed" --repository="$releases" --tag=e2e-signing \
  --registry="$tunnel" 2>"$work/publish.log" | tail -1) || { tail -30 "$work/publish.log"; die "publish failed"; }
step "published $published in $((SECONDS - t)) s"
[ "$published" = "$releases@$digest" ] || die "publish printed '$published'; the published digest must equal the scanned $digest"
[ "$(subject "$published")" = "${digest#sha256:}" ] || die "the published image lacks the scan attestation of its digest"
dc verify-image --image="$published" --signed-by="$COSIGN_PUB" --registry="$tunnel" >"$work/verify.log" 2>&1 ||
  { tail -20 "$work/verify.log"; die "verify-image refused the published image"; }
grep -q "verified $published" "$work/verify.log" || die "verify-image did not report the published image as verified"

# ---- 3. refusals ---------------------------------------------------------------------------
reg=http://$REGISTRY_ADDR/v2/txv-signing/releases
accept=application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json
curl -fsS -H "Accept: $accept" "$reg/manifests/$digest" -o "$work/manifest.json"
media=$(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$work/manifest.json")
variant() { # NAME: push the signed manifest with annotation tampered=NAME; print its digest
  jq -c --arg n "$1" '.annotations = ((.annotations // {}) + {"tampered": $n})' "$work/manifest.json" >"$work/$1.json"
  curl -fsS -X PUT -H "Content-Type: $media" --data-binary "@$work/$1.json" "$reg/manifests/$1-$run_id" -o /dev/null
  echo "sha256:$(sha256sum "$work/$1.json" | cut -d' ' -f1)"
}
# A kubeconfig that reaches nothing: a deploy that got past verification fails on it
# instead, with another message.
printf 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n' >"$work/kubeconfig"
refused() { # NAME REF EXPECTED-MESSAGE
  if dc deploy --env=local --image="$2" --signed-by="$COSIGN_PUB" --registry="$tunnel" \
       --kubeconfig="file:$work/kubeconfig" >"$work/deploy-$1.out" 2>"$work/deploy-$1.log"; then
    die "deploy accepted the $1 image $2"
  fi
  if ! grep -qF "deploy refused: image $2" "$work/deploy-$1.log" || ! grep -qF "$3" "$work/deploy-$1.log"; then
    tail -20 "$work/deploy-$1.log"; die "deploy of the $1 image failed without saying: deploy refused: image $2 ... $3"
  fi
  step "refused ($1): $(grep -m1 -F 'deploy refused' "$work/deploy-$1.log" | sed 's/^.*deploy refused/deploy refused/')"
}

step "a tampered image (another digest, the original's signature copied onto it)"
d=$(variant tampered)
curl -fsS -H "Accept: $accept" "$reg/manifests/sha256-${digest#sha256:}.sig" -o "$work/sig.json"
curl -fsS -X PUT -H "Content-Type: $(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$work/sig.json")" \
  --data-binary "@$work/sig.json" "$reg/manifests/sha256-${d#sha256:}.sig" -o /dev/null
refused tampered "$releases@$d" "has no valid signature"

step "an unsigned image"
d=$(variant unsigned)
refused unsigned "$releases@$d" "has no valid signature"

step "a signed image without a scan attestation"
d=$(variant unscanned)
COSIGN_PASSWORD=$(cat "$COSIGN_PASSWORD_FILE") cs sign --yes --tlog-upload=false --key "$COSIGN_KEY" "$releases@$d" 2>>"$work/host-sign.log"
refused unscanned "$releases@$d" "has no scan-result attestation"

step "a signed image whose scan attestation says failed"
d=$(variant failed-scan)
printf '{"scanner":"trivy","result":"failed","findings":["CRITICAL secret aws-access-key-id"]}' >"$work/failed.json"
COSIGN_PASSWORD=$(cat "$COSIGN_PASSWORD_FILE") cs sign --yes --tlog-upload=false --key "$COSIGN_KEY" "$releases@$d" 2>>"$work/host-sign.log"
COSIGN_PASSWORD=$(cat "$COSIGN_PASSWORD_FILE") cs attest --yes --tlog-upload=false --key "$COSIGN_KEY" \
  --type "$scan_type" --predicate "$work/failed.json" "$releases@$d" 2>>"$work/host-sign.log"
refused failed-scan "$releases@$d" 'found scan result "failed"'

step "all checks passed"
