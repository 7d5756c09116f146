#!/usr/bin/env bash
# up.sh starts the offline Dagger engine and its registry on this machine:
#
#   - txv-oci serve: an OCI registry on $REGISTRY_ADDR (loopback) holding the images of
#     images.env, assembled by build.sh
#   - dagger-engine: a host process listening on the unix socket $ENGINE_SOCK, inside a
#     private mount namespace (engine-ns.sh) so the host's system folders never change, with
#     docker.io and the other registries of MIRRORED_REGISTRIES mirrored to the local one
#
# Then: `. $DAGGER_STATE/client.env` and use dagger (see README.md); down.sh stops both.
# Idempotent: a running engine is left alone; only the registry is brought in line with the
# cache (images built since it started are pushed into it, unchanged ones cost a HEAD
# request), so `build.sh tool-images && up.sh` publishes new images without a restart.
# Builds first when the cache is missing (cold: ~21 min, plus the tool images), so it needs
# root, like the engine itself. A tool image that cannot be built (the AWS provider is not
# cached, say) does not stop the engine: up.sh warns, serves the others, and smoke.sh fails
# naming the missing one.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || die "the engine needs root (mount namespace, CNI bridge, iptables)"

t0=$(date +%s)
mkdir -p "$DAGGER_STATE"
oci=$DAGGER_TOOLS/txv-oci

# build: every stage; the tool images may fail (see the header) without stopping us.
build() {
  "$DAGGER_HERE/build.sh" binaries tools images
  "$DAGGER_HERE/build.sh" tool-images ||
    log "WARNING: some tool images were not built (reason above); serving the others, smoke.sh will fail"
  images=$(images_key)
  mapfile -t image_args < <(registry_image_args "$images" "$(cat "$TOOL_IMAGES_CURRENT" 2>/dev/null)")
}

if pid_is_ours "$(cat "$ENGINE_PIDFILE" 2>/dev/null)" dagger-engine &&
   pid_is_ours "$(cat "$REGISTRY_PIDFILE" 2>/dev/null)" txv-oci; then
  build
  # The registry holds manifests in memory: push what it lacks or has at another digest.
  "$oci" push -addr "$REGISTRY_ADDR" "${image_args[@]}" 2>>"$REGISTRY_LOG" ||
    { tail -5 "$REGISTRY_LOG" >&2; die "could not bring the running registry up to date"; }
  log "already running (engine pid $(cat "$ENGINE_PIDFILE"), registry pid $(cat "$REGISTRY_PIDFILE")); registry serves $((${#image_args[@]} / 2)) images"
  exit 0
fi
# Half-up (one of the two died): start from a clean slate rather than guess.
if [ -f "$ENGINE_PIDFILE" ] || [ -f "$REGISTRY_PIDFILE" ]; then
  log "previous run left pid files behind; running down.sh first"
  "$DAGGER_HERE/down.sh"
fi

# shellcheck disable=SC2086 # a space-separated package list, one word per package
ensure_apt $DAGGER_APT_PACKAGES
build

# What the host looks like before we touch it: down.sh removes exactly the difference.
host_fingerprint >"$DAGGER_STATE/host-before"
cat /proc/sys/net/ipv4/ip_forward >"$DAGGER_STATE/ip_forward-before"

# Registry first: the engine resolves images through it from its first request.
: >"$REGISTRY_LOG"
nohup "$oci" serve -addr "$REGISTRY_ADDR" -blobs "$DAGGER_CACHE/registry-blobs" "${image_args[@]}" \
  >>"$REGISTRY_LOG" 2>&1 </dev/null &
echo $! >"$REGISTRY_PIDFILE"
for _ in $(seq 1 600); do
  grep -q "ready on $REGISTRY_ADDR" "$REGISTRY_LOG" && break
  kill -0 "$(cat "$REGISTRY_PIDFILE")" 2>/dev/null || { tail -20 "$REGISTRY_LOG" >&2; die "registry exited"; }
  sleep 0.2
done
grep -q "ready on $REGISTRY_ADDR" "$REGISTRY_LOG" || die "registry not ready after 120 s"
log "registry on $REGISTRY_ADDR ($(($(date +%s) - t0)) s)"

# The namespace's overlay layers: rebuilt on every start, as nothing in them is worth keeping.
rm -rf "$ENGINE_NS"
mkdir -p "$ENGINE_NS/upper/usr-local-bin" "$ENGINE_NS/upper/opt/cni/bin" "$DAGGER_STATE/tmp" "$ENGINE_ROOT"
install -m 0755 "$(command -v runc)" "$ENGINE_NS/upper/usr-local-bin/runc"
install -m 0755 "$DAGGER_BIN/dagger-init" "$ENGINE_NS/upper/usr-local-bin/dagger-init"
for p in bridge loopback firewall host-local; do
  install -m 0755 "/usr/lib/cni/$p" "$ENGINE_NS/upper/opt/cni/bin/$p"
done
install -m 0755 "$DAGGER_BIN/dnsname" "$ENGINE_NS/upper/opt/cni/bin/dnsname"

{
  # The engine's layer cache lives on the same disk as everything else. Its defaults let it
  # grow to 75% of the disk, and on a CI machine that keeps its state between runs (every
  # seeded defect of suite 50 adds source snapshots and test layers) it did: the run after
  # found the disk full. These bounds hold twice what a full suite 50 run leaves (10 GB,
  # docs/airgap-dagger.md) and give space back before the disk runs out.
  printf '[worker.oci]\n  gc = true\n  reservedSpace = "%s"\n  maxUsedSpace = "%s"\n  minFreeSpace = "%s"\n' \
    "$ENGINE_GC_RESERVED" "$ENGINE_GC_MAX_USED" "$ENGINE_GC_MIN_FREE"
  for r in $MIRRORED_REGISTRIES; do
    printf '[registry."%s"]\n  mirrors = ["%s"]\n' "$r" "$REGISTRY_ADDR"
  done
  # Plain HTTP is fine on loopback, and keeps the registry free of certificates.
  printf '[registry."%s"]\n  http = true\n  insecure = true\n' "$REGISTRY_ADDR"
} >"$DAGGER_STATE/engine.toml"

rm -f "$ENGINE_SOCK"
: >"$ENGINE_LOG"
cache_used "$ENGINE_ROOT"   # airgap/cache-gc.sh: the layer cache's last use
# The engine hands this digest to the Go SDK: `dagger call` on a Go module then runs in our
# runtime image (from the content store) instead of pulling registry.dagger.io's.
DAGGER_GO_SDK_MANIFEST_DIGEST=$("$oci" digest -layout "$images/gosdk") \
TMPDIR=$DAGGER_STATE/tmp \
  nohup unshare --mount --propagation private \
    "$DAGGER_HERE/engine-ns.sh" "$ENGINE_NS" "$images/gosdk" -- \
    "$DAGGER_BIN/dagger-engine" --config "$DAGGER_STATE/engine.toml" \
      --addr "unix://$ENGINE_SOCK" --root "$ENGINE_ROOT" \
      --oci-cni-binary-dir /opt/cni/bin \
    >>"$ENGINE_LOG" 2>&1 </dev/null &
# unshare and engine-ns.sh exec, so this PID becomes the engine's.
echo $! >"$ENGINE_PIDFILE"
for _ in $(seq 1 900); do
  [ -S "$ENGINE_SOCK" ] && grep -q "running server on $ENGINE_SOCK\"" "$ENGINE_LOG" && break
  kill -0 "$(cat "$ENGINE_PIDFILE")" 2>/dev/null || { tail -30 "$ENGINE_LOG" >&2; die "engine exited (log: $ENGINE_LOG)"; }
  sleep 0.2
done
grep -q "running server on $ENGINE_SOCK\"" "$ENGINE_LOG" || die "engine not ready after 180 s (log: $ENGINE_LOG)"
pid_is_ours "$(cat "$ENGINE_PIDFILE")" dagger-engine || die "pid $(cat "$ENGINE_PIDFILE") is not the engine"
readlink "/proc/$(cat "$ENGINE_PIDFILE")/ns/mnt" >"$DAGGER_STATE/engine-mntns"

cat >"$DAGGER_STATE/env" <<ENV
REGISTRY_ADDR=$REGISTRY_ADDR
DAGGER_CACHE=$DAGGER_CACHE
ENV
dagger_client_env >"$DAGGER_STATE/client.env"
log "engine pid $(cat "$ENGINE_PIDFILE") on unix://$ENGINE_SOCK; up in $(($(date +%s) - t0)) s"
log "client: . $DAGGER_STATE/client.env"
