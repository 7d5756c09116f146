#!/usr/bin/env bash
# smoke.sh proves the running engine (up.sh) works offline, end to end:
#   1. a container from the local mirror: docker.io/library/golang resolves through the
#      registry on $REGISTRY_ADDR and runs the host's Go version;
#   2. module mode: `dagger init --sdk=go` and `dagger call` on a module whose function runs
#      the mirrored Debian image; the answer must equal the debootstrapped /etc/debian_version.
# Each exec carries a fresh nonce, so the engine's cache cannot answer in place of a container.
# Prints the time of each step; exits non-zero on the first failure.
set -euo pipefail
. "$(dirname "$0")/common.sh"
trap 'log "smoke: FAILED at line $LINENO"' ERR
[ -f "$DAGGER_STATE/client.env" ] || die "engine not up: run airgap/dagger/up.sh"
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
pid_is_ours "$(cat "$ENGINE_PIDFILE" 2>/dev/null)" dagger-engine || die "engine not running: run up.sh"

nonce=$(date +%s%N)
want_go="go version $(go env GOVERSION) linux/amd64"
want_debian=$(cat "$ROOTFS_CACHE/rootfs/etc/debian_version")
out=$DAGGER_STATE/smoke; rm -rf "$out"; mkdir -p "$out"

# 0 -------------------------------------------------------------------------------------
# Nothing we start may listen beyond loopback: the engine has only its unix socket, the
# registry only $REGISTRY_ADDR.
for pid in "$(cat "$ENGINE_PIDFILE")" "$(cat "$REGISTRY_PIDFILE")"; do
  ss -Hltnup | awk -v p="pid=$pid," 'index($0, p) {print $5}' | while read -r addr; do
    case $addr in 127.0.0.1:*|\[::1\]:*) ;; *) die "pid $pid listens on $addr, beyond loopback" ;; esac
  done
done
ss -Hltn "sport = :${REGISTRY_ADDR##*:}" | grep -qF "$REGISTRY_ADDR" || die "registry is not on $REGISTRY_ADDR"
log "smoke 0/2: engine and registry listen on loopback / unix socket only"

# 1 -------------------------------------------------------------------------------------
log "smoke 1/2: container from $IMAGE_GOLANG via the mirror"
reg_lines=$(wc -l <"$REGISTRY_LOG")
t=$(date +%s)
got=$(dagger query --progress=plain 2>"$out/query.log" <<GQL | tee "$out/query.json"
{ container { from(address: "$IMAGE_GOLANG") {
    withEnvVariable(name: "SMOKE_NONCE", value: "$nonce") {
      withExec(args: ["go", "version"]) { stdout } } } } }
GQL
) || { tail -30 "$out/query.log" >&2; die "dagger query failed (log: $out/query.log)"; }
grep -qF "$want_go" <<<"$got" || die "container printed $got, want '$want_go'"
# The image must have come from our registry, not from anything else the engine can reach.
tail -n +"$((reg_lines + 1))" "$REGISTRY_LOG" | grep -q "/v2/$(registry_path "${IMAGE_GOLANG%:*}")/manifests/" ||
  die "registry $REGISTRY_ADDR saw no request for $IMAGE_GOLANG: the mirror is not in use"
log "smoke 1/2: ok in $(($(date +%s) - t)) s: $want_go"

# 2 -------------------------------------------------------------------------------------
log "smoke 2/2: dagger init --sdk=go + dagger call"
mod=$out/module; mkdir -p "$mod"
t=$(date +%s)
# --license= : otherwise init downloads a licence text, which cannot work offline.
(cd "$mod" && dagger init --sdk=go --name=smoke --license= --progress=plain >"$out/init.log" 2>&1) ||
  { tail -30 "$out/init.log" >&2; die "dagger init failed (log: $out/init.log)"; }
log "smoke 2/2: init in $(($(date +%s) - t)) s"
cat >"$mod/main.go" <<GO
// Module used by airgap/dagger/smoke.sh to check module mode against the offline engine.
package main

import "context"

type Smoke struct{}

// DebianVersion runs the mirrored Debian image; the nonce keeps the engine from answering
// from its cache.
func (m *Smoke) DebianVersion(ctx context.Context, nonce string) (string, error) {
	return dag.Container().From("$IMAGE_DEBIAN").
		WithEnvVariable("SMOKE_NONCE", nonce).
		WithExec([]string{"cat", "/etc/debian_version"}).
		Stdout(ctx)
}
GO
t=$(date +%s)
got=$(cd "$mod" && dagger call --progress=plain debian-version --nonce="$nonce" 2>"$out/call.log") ||
  { tail -40 "$out/call.log" >&2; die "dagger call failed (log: $out/call.log)"; }
[ "$(echo "$got" | tr -d '[:space:]')" = "$want_debian" ] ||
  die "dagger call printed '$got', want the debootstrapped Debian version $want_debian"
log "smoke 2/2: ok, dagger call in $(($(date +%s) - t)) s: debian $want_debian"
