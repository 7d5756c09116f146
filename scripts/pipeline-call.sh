#!/usr/bin/env bash
# scripts/pipeline-call.sh FUNCTION [ARGS...] runs one function of the pipeline (ci/) on
# this checkout with the offline Dagger engine: `dagger call --airgapped FUNCTION ARGS`.
# The suites whose checks live in the pipeline (20, 21, 30) call it, so each check has one
# implementation. Suite 50's `dagger call ci` on the same checkout then finds their steps
# in the engine's cache: docs/pipeline.md, "What a change re-runs".
#
# Like suites 45 and 50 it needs root (the offline engine) and builds the engine if nothing
# has yet; it starts the engine if it is not running and stops it again only if it started
# it. Exit codes: the function's, or 3 (a suite's "skipped", with the reason) without root.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=/dev/null
. "$REPO_ROOT/airgap/dagger/common.sh"
cd "$REPO_ROOT"

[ $# -ge 1 ] || die "usage: scripts/pipeline-call.sh FUNCTION [ARGS...]"
if [ "$(id -u)" -ne 0 ]; then
  printf '\n!!!!! SKIP: dagger call %s needs root (the offline Dagger engine); suite 50 says the same\n\n' "$1"
  exit 3
fi
started=0
airgap/dagger/status.sh >/dev/null 2>&1 || { airgap/dagger/up.sh >&2; started=1; }
[ $started = 0 ] || trap 'airgap/dagger/down.sh >/dev/null 2>&1 || true' EXIT
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
log "dagger call --airgapped $*"
# The shared engine can fail to load the module with an overlay mount "invalid argument"
# when many clients load it at once: that error, and only that, is retried once.
errlog=$(mktemp "${TMPDIR:-/tmp}/pipeline-call.XXXXXX")
trap 'rm -f "$errlog"; [ $started = 0 ] || airgap/dagger/down.sh >/dev/null 2>&1 || true' EXIT
for attempt in 1 2; do
  rc=0
  dagger --progress=plain call --airgapped "$@" 2>"$errlog" || rc=$?
  [ $rc != 0 ] || exit 0
  if [ $attempt = 1 ] && grep -q 'mount.*invalid argument' "$errlog"; then
    log "the engine failed to mount the module (overlay: invalid argument); retrying once in 30 s"
    sleep 30
    continue
  fi
  # The function's own report (the failed steps and their output) ends the log.
  tail -150 "$errlog" >&2
  exit $rc
done
