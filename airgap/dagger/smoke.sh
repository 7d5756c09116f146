#!/usr/bin/env bash
# smoke.sh proves the running engine (up.sh) works offline, end to end:
#   1. a container from the local mirror: docker.io/library/golang resolves through the
#      registry on $REGISTRY_ADDR and runs the host's Go version;
#   2. module mode: `dagger init --sdk=go` and `dagger call` on a module whose function runs
#      the mirrored Debian image; the answer must equal the debootstrapped /etc/debian_version;
#   3. the pipeline's shape: a module function builds a static Go binary in the golang image
#      and runs it in the distroless-style static image (as nonroot, with the CA bundle).
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
log "smoke 0/3: engine and registry listen on loopback / unix socket only"

# 1 -------------------------------------------------------------------------------------
log "smoke 1/3: container from $IMAGE_GOLANG via the mirror"
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
log "smoke 1/3: ok in $(($(date +%s) - t)) s: $want_go"

# 2 -------------------------------------------------------------------------------------
log "smoke 2/3: dagger init --sdk=go + dagger call"
mod=$out/module; mkdir -p "$mod"
t=$(date +%s)
# --license= : otherwise init downloads a licence text, which cannot work offline.
(cd "$mod" && dagger init --sdk=go --name=smoke --license= --progress=plain >"$out/init.log" 2>&1) ||
  { tail -30 "$out/init.log" >&2; die "dagger init failed (log: $out/init.log)"; }
log "smoke 2/3: init in $(($(date +%s) - t)) s"
cat >"$mod/main.go" <<GO
// Module used by airgap/dagger/smoke.sh to check module mode against the offline engine.
package main

import (
	"context"
	"dagger/smoke/internal/dagger"
)

type Smoke struct{}

const helloSrc = \`package main

import (
	"fmt"
	"os"
)

func main() {
	_, err := os.Stat("/etc/ssl/certs/ca-certificates.crt")
	fmt.Printf("uid=%d ca=%v\\n", os.Getuid(), err == nil)
}
\`

// StaticHello builds a static binary with the golang image and runs it in the static
// runtime image; only the run carries the nonce, so the build stays cached between runs.
func (m *Smoke) StaticHello(ctx context.Context, nonce string) (string, error) {
	bin := dag.Container().From("$IMAGE_GOLANG").
		WithNewFile("/src/main.go", helloSrc).
		WithWorkdir("/src").
		WithEnvVariable("CGO_ENABLED", "0").
		WithExec([]string{"go", "build", "-o", "/out/hello", "main.go"}).
		File("/out/hello")
	return dag.Container().From("$IMAGE_STATIC").
		WithFile("/usr/local/bin/hello", bin, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithEnvVariable("SMOKE_NONCE", nonce).
		WithExec([]string{"hello"}).
		Stdout(ctx)
}

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
log "smoke 2/3: ok, dagger call in $(($(date +%s) - t)) s: debian $want_debian"

# 3 -------------------------------------------------------------------------------------
log "smoke 3/3: build in $IMAGE_GOLANG, run in $IMAGE_STATIC"
t=$(date +%s)
got=$(cd "$mod" && dagger call --progress=plain static-hello --nonce="$nonce" 2>"$out/static.log") ||
  { tail -40 "$out/static.log" >&2; die "dagger call static-hello failed (log: $out/static.log)"; }
[ "$(echo "$got" | tr -d '[:space:]')" = "uid=65532ca=true" ] ||
  die "static image printed '$got', want 'uid=65532 ca=true' (nonroot user, CA bundle present)"
log "smoke 3/3: ok in $(($(date +%s) - t)) s: $got"
