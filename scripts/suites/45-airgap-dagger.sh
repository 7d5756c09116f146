#!/usr/bin/env bash
# Suite 45: the offline Dagger engine (airgap/dagger). Builds what is missing, starts the
# engine and registry, runs the smoke test (a container from the local mirror, `dagger call`
# on a Go module, a static binary built in golang and run in the static image, every tool
# image pulled by name and run: tofu init + validate from its provider mirror, kubeconform
# -strict against /schemas, ...; `go test -race` in the golang image), stops everything
# and checks that the host is exactly as before. A tool image that could not be built fails
# the smoke test, naming it.
#
# A fresh machine builds the engine first (airgap/dagger/build.sh: ~3 min for the binaries
# and ~2 min for the images on an idle 2-core machine, docs/airgap-dagger.md), or finds it
# built already by airgap/prebuild.sh, which scripts/test.sh starts in the background.
set -uo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
D=$REPO_ROOT/airgap/dagger
# shellcheck source=../../airgap/dagger/common.sh
. "$D/common.sh"

skip() {
  printf '\n!!!!! SKIP 45-airgap-dagger: %s\n\n' "$*"
  exit 3
}
[ "$(id -u)" -eq 0 ] || skip "needs root (mount namespace, CNI bridge, iptables); run as root"
if "$D/status.sh" >/dev/null 2>&1; then
  skip "an engine is already running from $DAGGER_STATE; this suite stops what it starts, so it
  will not run against someone else's session (stop it with airgap/dagger/down.sh)"
fi

fail=0
step() { log "suite 45: $*"; }
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT

# The engine's Debian runtime is installed first, on purpose and for good (up.sh would do it
# otherwise): the host check is about what the engine leaves behind, and on a fresh machine
# a fingerprint taken before iptables exists would count its empty built-in chains as ours.
# shellcheck disable=SC2086 # a space-separated package list
ensure_apt $DAGGER_APT_PACKAGES
# Likewise the build, which may still be running in airgap/prebuild.sh: its txv-oci and
# chroot processes are not the engine's. build.sh waits for that one on its lock; a failure
# here is reported by up.sh below, which builds again.
"$D/build.sh" >&2 || step "build.sh failed; up.sh will say why"
host_fingerprint >"$before"
step "up"
t=$(date +%s)
if "$D/up.sh"; then
  step "up took $(($(date +%s) - t)) s"
  step "smoke"
  t=$(date +%s)
  "$D/smoke.sh" || { fail=1; step "FAIL: smoke test"; }
  step "smoke took $(($(date +%s) - t)) s"
  # Idempotence: a second up must notice the running engine and change nothing.
  "$D/up.sh" 2>&1 | grep -q "already running" || { fail=1; step "FAIL: second up.sh did not see the running engine"; }
else
  fail=1; step "FAIL: up.sh"
fi
step "down"
"$D/down.sh" || { fail=1; step "FAIL: down.sh"; }
host_fingerprint >"$after"
if ! diff -u "$before" "$after"; then
  fail=1; step "FAIL: the host differs after down.sh (diff above)"
else
  step "host as before: $(wc -l <"$before") fingerprint lines unchanged"
fi
"$D/status.sh" >/dev/null 2>&1 && { fail=1; step "FAIL: status.sh still reports the engine up"; }
exit $fail
