#!/usr/bin/env bash
# Suite 06: airgap/cache-gc.sh on a real, small file system (an 80 MB tmpfs), so "free space"
# is the kernel's answer and not a number the test makes up: eviction under pressure goes
# least recently used first, never touches unstamped (foreign) or recently used entries,
# fails with a report when it cannot free enough, and the after-run sweep removes exactly
# the entries the run did not use.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
GC=$REPO_ROOT/airgap/cache-gc.sh

[ "$(id -u)" -eq 0 ] || { printf '\n!!!!! SKIP 06-cache-gc: needs root to mount a tmpfs\n\n'; exit 3; }
mnt=$(mktemp -d)
mount -t tmpfs -o size=80m txv-cache-gc-test "$mnt"
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
export CACHE_ROOT=$mnt/cache
# The two entries outside the tool builds, kept inside the tmpfs as well: this suite must
# never evict the machine's real Go build cache or engine state.
export GOCACHE=$mnt/go-build AIRGAP_STATE=$mnt/state

failures=0
check() { if "$@"; then :; else log "CHECK FAILED: $*"; failures=$((failures + 1)); fi; }
present() { [ -d "$CACHE_ROOT/$1" ]; }
absent() { [ ! -e "$CACHE_ROOT/$1" ]; }

# entry NAME MB AGE [STAMP]: a cache entry of MB megabytes last used AGE ago (a `touch -d`
# phrase); STAMP is .used (default), .complete (an entry older than the stamps) or none.
entry() {
  local dir=$CACHE_ROOT/$1 stamp=${4:-.used}
  mkdir -p "$dir"
  head -c $(($2 * 1048576)) /dev/zero >"$dir/blob"
  [ "$stamp" = none ] || touch -d "$3" "$dir/$stamp"
}

fill() {
  rm -rf "$CACHE_ROOT"
  entry tofu-v1.9.0 10 "9 days ago"                          # an old pin
  entry tofu-v1.10.7 10 "1 day ago"                          # the current pin
  entry k8s-schemas-aaaa 8 "5 days ago" .complete            # built before stamps existed
  entry dagger-v0.19.10/images-r3 10 "7 days ago" .complete  # a stale image set, nested
  entry dagger-v0.19.10/images-r4 10 "2 days ago"
  touch "$CACHE_ROOT/dagger-v0.19.10/.used"                  # the Dagger cache itself: in use
  entry pip 6 "30 days ago" none                             # someone else's cache
}

log "free: evicts the least recently used stamped entries, just enough"
fill
# 80 MB - 54 MB of entries leaves ~26 MB; asking for 45 MB must take the 9-day-old pin, the
# 7-day-old images and stop there (10 + 10 MB freed).
check "$GC" free 45M
check absent tofu-v1.9.0
check absent dagger-v0.19.10/images-r3
check present k8s-schemas-aaaa
check present tofu-v1.10.7
check present dagger-v0.19.10/images-r4
check present pip

log "free: the Go build cache and an idle engine's layers go last; a running engine's never"
fill
mkdir -p "$GOCACHE" "$AIRGAP_STATE/dagger/root"
head -c $((6 * 1048576)) /dev/zero >"$GOCACHE/blob"; touch -d "12 hours ago" "$GOCACHE/.used"
head -c $((6 * 1048576)) /dev/zero >"$AIRGAP_STATE/dagger/root/blob"; touch -d "3 hours ago" "$AIRGAP_STATE/dagger/root/.used"
echo $$ >"$AIRGAP_STATE/dagger/engine.pid"   # a live process: the engine is "running"
# 14 MB free; 66 MB needs every stamped entry but the running engine's, the Go cache last.
check "$GC" free 66M
check absent tofu-v1.10.7
check test ! -e "$GOCACHE"
check test -f "$AIRGAP_STATE/dagger/root/blob"
# With the engine down its layers are an entry like the others, by their last use.
rm -f "$AIRGAP_STATE/dagger/engine.pid"
fill
mkdir -p "$GOCACHE"; head -c $((6 * 1048576)) /dev/zero >"$GOCACHE/blob"; touch -d "12 hours ago" "$GOCACHE/.used"
touch -d "3 days ago" "$AIRGAP_STATE/dagger/root/.used"
check "$GC" free 45M                          # 14 free: 9d, 7d, 5d old entries, then the 3d-old engine cache
check test ! -e "$AIRGAP_STATE/dagger/root"
check present dagger-v0.19.10/images-r4
check test -f "$GOCACHE/blob"
rm -rf "$GOCACHE" "$AIRGAP_STATE"

log "free: an entry whose builder holds its lock stays, however old its stamp"
fill
exec {held}>"$CACHE_ROOT/tofu-v1.9.0.lock"; flock "$held"
# 26 MB free; 45 MB would take the 9-day-old pin first, but a build of it is under way: the
# 7-day-old images and the 5-day-old schemas go instead.
check "$GC" free 45M
check present tofu-v1.9.0
check absent dagger-v0.19.10/images-r3
check absent k8s-schemas-aaaa
# The sweep after a run spares it too; released, it goes like any unused entry.
sleep 1; stamp=$mnt/run-start; touch "$stamp"
check "$GC" sweep "$stamp"
check present tofu-v1.9.0
exec {held}>&-
check "$GC" sweep "$stamp"
check absent tofu-v1.9.0
rm -f "$CACHE_ROOT/tofu-v1.9.0.lock"

log "free: nothing to do when there is room"
before=$(find "$CACHE_ROOT" | sort)
check "$GC" free 1M
check test "$before" = "$(find "$CACHE_ROOT" | sort)"

log "free: recent and unstamped entries are never evicted; short of space it fails, with a report"
fill
touch "$CACHE_ROOT"/*/.used "$CACHE_ROOT"/*/.complete "$CACHE_ROOT"/dagger-v0.19.10/*/.used 2>/dev/null || true
out=$("$GC" free 60M 2>&1) && { log "CHECK FAILED: free 60M succeeded with 26 MB free and nothing evictable"; failures=$((failures + 1)); }
check grep -q "this run needs 60M" <<<"$out"
check grep -q "tofu-v1.10.7" <<<"$out"   # the report lists the entries
check present tofu-v1.9.0                 # used just now: protected
check present pip

log "sweep: removes exactly what the run did not use"
fill
sleep 1; stamp=$mnt/run-start; touch "$stamp"; sleep 1
touch "$CACHE_ROOT/tofu-v1.10.7/.used" "$CACHE_ROOT/dagger-v0.19.10/.used" "$CACHE_ROOT/dagger-v0.19.10/images-r4/.used"
check "$GC" sweep "$stamp"
check absent tofu-v1.9.0
check absent k8s-schemas-aaaa
check absent dagger-v0.19.10/images-r3
check present tofu-v1.10.7
check present dagger-v0.19.10/images-r4
check present pip

log "bad arguments are refused"
refused() { ! "$GC" "$@" 2>/dev/null; }
check refused free 30
check refused sweep /nonexistent
check refused frobnicate

[ "$failures" = 0 ] || { log "cache-gc: $failures checks failed"; exit 1; }
log "cache-gc: all checks passed"
