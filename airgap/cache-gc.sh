#!/usr/bin/env bash
# airgap/cache-gc.sh keeps the toolchain's caches from filling the disk.
#
#   airgap/cache-gc.sh report             # free space and every cache entry, least recently used first
#   airgap/cache-gc.sh free SIZE          # evict least recently used entries until SIZE is free (20G, 500M)
#   airgap/cache-gc.sh sweep STAMP_FILE   # remove the entries not used since STAMP_FILE was written
#
# An entry is a directory of $CACHE_ROOT (or of a directory there, such as the Dagger cache's
# images-* and tool-images-*) that holds a .used or .complete stamp: the builders in
# scripts/lib.sh and airgap/ touch .used each time they hand an entry out, so its mtime is
# the entry's last use (an entry written before stamps existed falls back to its .complete).
# Nothing without a stamp is ever removed: other programs' caches in ~/.cache are not ours.
#
# Why: every pin change leaves the previous build behind (a new tool-images-<hash> of
# several GB, another k8s-schemas-<hash>, ...). A CI machine that keeps ~/.cache between
# runs therefore fills up after enough of them, and the run that finds the disk full fails
# in whatever suite happens to write next ("no space left on device" in the Go compiler).
# scripts/test.sh calls `free` before the suites, so that run gets its space back from the
# stalest entries and fails up front, with this report, if it cannot; and `sweep` after a
# full run that passed, when everything still pinned has just been used.
#
# Entries used in the last KEEP_RECENT_MIN minutes (default 30) are never evicted: on a
# shared machine another run may be using them right now. Nor is an entry whose builder holds
# its lock (<entry>.lock, or its parent's for a nested one) right now, however old its stamp:
# a rebuild of an old pin's entry writes into it, and removing the directory under a running
# build made the build fail (seen: a suite's `free` took the Dagger cache an engine build was
# compiling in).
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

KEEP_RECENT_MIN=${KEEP_RECENT_MIN:-30}

# Two more entries live outside the tool builds: the Go build cache (scripts/test.sh stamps
# it at the end of each run, so it goes only after everything older) and the offline Dagger
# engine's layer cache, while no engine runs on it (up.sh and down.sh stamp it; one from
# before the stamps counts from its directory's mtime). Both refill on their own.
GO_BUILD_CACHE=$(go env GOCACHE 2>/dev/null || true)
ENGINE_ROOT=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/dagger/root
ENGINE_PIDFILE=${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/dagger/engine.pid

engine_running() {
  local pid
  pid=$(cat "$ENGINE_PIDFILE" 2>/dev/null) && [ -n "$pid" ] && [ -d "/proc/$pid" ]
}

# entries prints "LAST_USE_EPOCH SIZE_KB PATH" for every stamped entry, oldest first. A
# nested entry is listed on its own as well as inside its parent's size.
entries() {
  local d stamp t
  {
    for d in "$CACHE_ROOT"/*/ "$CACHE_ROOT"/*/*/; do
      d=${d%/}
      if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
      if [ -e "$d/.used" ]; then stamp=$d/.used
      elif [ -e "$d/.complete" ]; then stamp=$d/.complete
      else continue; fi
      printf '%s %s\n' "$(stat -c %Y "$stamp")" "$d"
    done
    if [ -n "$GO_BUILD_CACHE" ] && [ -f "$GO_BUILD_CACHE/.used" ]; then
      printf '%s %s\n' "$(stat -c %Y "$GO_BUILD_CACHE/.used")" "$GO_BUILD_CACHE"
    fi
    if [ -d "$ENGINE_ROOT" ] && ! engine_running; then
      stamp=$ENGINE_ROOT/.used
      [ -e "$stamp" ] || stamp=$ENGINE_ROOT
      printf '%s %s\n' "$(stat -c %Y "$stamp")" "$ENGINE_ROOT"
    fi
  } | sort -n | while read -r t d; do
    printf '%s %s %s\n' "$t" "$(du -sk "$d" 2>/dev/null | cut -f1)" "$d"
  done
}

free_kb() { df -Pk "$CACHE_ROOT" | awk 'NR == 2 {print $4}'; }

# building PATH: true while a builder holds the lock of the entry or of the entry it is in.
building() {
  local lock
  for lock in "$1.lock" "$(dirname "$1").lock"; do
    [ -e "$lock" ] || continue
    flock -n "$lock" true 2>/dev/null || return 0
  done
  return 1
}

human() { awk -v k="$1" 'BEGIN { if (k >= 1048576) printf "%.1f GB", k / 1048576; else printf "%.0f MB", k / 1024 }'; }

report() {
  mkdir -p "$CACHE_ROOT"
  log "cache: $(human "$(free_kb)") free on the filesystem of $CACHE_ROOT"
  local t kb path total=0
  while read -r t kb path; do
    printf '  %-10s %9s  %s\n' "$(date -d "@$t" +%F)" "$(human "$kb")" "${path#"$CACHE_ROOT"/}" >&2
    case $path in "$CACHE_ROOT"/*/*) ;; *) total=$((total + kb)) ;; esac # nested: in its parent
  done < <(entries)
  log "cache: $(human "$total") in stamped entries"
}

# evict PATH: remove an entry; read-only module copies inside need their write bit back.
evict() {
  chmod -R u+w "$1" 2>/dev/null || true
  rm -rf "$1"
}

# size_kb SIZE: 20G or 500M in KiB.
size_kb() {
  [[ $1 =~ ^([0-9]+)([GM])$ ]] || die "size $1: want a number and G or M, e.g. 20G"
  case ${BASH_REMATCH[2]} in
    G) echo $(( BASH_REMATCH[1] * 1048576 )) ;;
    M) echo $(( BASH_REMATCH[1] * 1024 )) ;;
  esac
}

free_space() {
  local want_kb now t kb path recent freed=0
  want_kb=$(size_kb "$1")
  mkdir -p "$CACHE_ROOT"
  now=$(date +%s); recent=$((now - KEEP_RECENT_MIN * 60))
  [ "$(free_kb)" -ge "$want_kb" ] && return 0
  log "cache: $(human "$(free_kb)") free, want $1: evicting the least recently used entries"
  while read -r t kb path; do
    [ "$(free_kb)" -ge "$want_kb" ] && break
    [ "$t" -lt "$recent" ] || break # sorted: every later entry is recent too
    [ -d "$path" ] || continue      # inside an entry evicted before it
    if building "$path"; then log "cache: keep ${path#"$CACHE_ROOT"/}: a build holds its lock"; continue; fi
    log "cache: evict ${path#"$CACHE_ROOT"/} ($(human "$kb"), last used $(date -d "@$t" +%F))"
    evict "$path"; freed=$((freed + kb))
  done < <(entries)
  if [ "$(free_kb)" -lt "$want_kb" ]; then
    report
    log "cache: only $(human "$(free_kb)") free after evicting $(human "$freed"); this run needs $1." \
      "Free space outside the cache (or lower TXV_MIN_FREE if you know the run needs less)."
    return 1
  fi
  log "cache: $(human "$(free_kb)") free after evicting $(human "$freed")"
}

sweep() {
  local since t kb path n=0
  [ -f "$1" ] || die "sweep: no stamp file $1"
  since=$(stat -c %Y "$1")
  while read -r t kb path; do
    [ "$t" -lt "$since" ] || continue
    [ -d "$path" ] || continue
    # Not tied to a pin: these two only go under disk pressure (free).
    if [ "$path" = "$GO_BUILD_CACHE" ] || [ "$path" = "$ENGINE_ROOT" ]; then continue; fi
    building "$path" && continue
    log "cache: sweep ${path#"$CACHE_ROOT"/} ($(human "$kb"), unused since $(date -d "@$t" +%F))"
    evict "$path"; n=$((n + 1))
  done < <(entries)
  log "cache: swept $n entries this run did not use"
}

case ${1:-} in
  report) report ;;
  free) [ $# = 2 ] || die "usage: $0 free SIZE"; free_space "$2" ;;
  sweep) [ $# = 2 ] || die "usage: $0 sweep STAMP_FILE"; sweep "$2" ;;
  *) die "usage: $0 report | free SIZE | sweep STAMP_FILE" ;;
esac
