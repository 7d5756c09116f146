#!/usr/bin/env bash
# scripts/test.sh runs every test suite of the repository on this machine, installing and
# starting what each needs (PostgreSQL and Redis from Debian, tools from the Go proxy).
#
#   scripts/test.sh              # every suite
#   scripts/test.sh service iac  # only the suites whose names contain these words
#
# Each suite is a script in scripts/suites/, run in its own process. Exit codes: 0 passed,
# 3 skipped (the suite must print why; a skip is never silent), anything else failed.
# The last line is "N passed, N failed, N skipped" and the exit code is non-zero when
# anything failed.
set -uo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export REPO_ROOT
cd "$REPO_ROOT" || exit 1

# Disk space first: a run that starts short of it fails late and obscurely ("no space left
# on device" from whichever suite writes next). cache-gc.sh evicts the least recently used
# tool builds until TXV_MIN_FREE is free (what the run may still write: Go build and test
# caches, the Dagger engine's layers, test servers' data), and otherwise stops here with a
# report of what takes the space.
run_started=$(mktemp "${TMPDIR:-/tmp}/txv-run-started.XXXXXX")
trap 'rm -f "$run_started"' EXIT
# Measured (docs/performance.md): a run on warm caches writes a few GB; a cold one ~45 GB
# (Go build and module caches 27 GB, the engine's layers 10 GB, the tools 5 GB).
. airgap/versions.env
min_free=20G
if [ ! -f "${CACHE_ROOT:-$HOME/.cache}/dagger-$DAGGER_VERSION/bin/.complete" ]; then
  # Without the toolchain: the cold run's 50 GB, less what the Go caches already hold of the
  # 27 GB it writes there (a machine whose toolchain build was interrupted has most of them).
  go_gb=$(du -sk "$(go env GOCACHE)" "$(go env GOMODCACHE)" 2>/dev/null | awk '{s += $1} END {print int(s / 1048576)}')
  go_gb=${go_gb:-0}; [ "$go_gb" -le 27 ] || go_gb=27
  min_free=$((50 - go_gb > 20 ? 50 - go_gb : 20))G
fi
airgap/cache-gc.sh report
if ! airgap/cache-gc.sh free "${TXV_MIN_FREE:-$min_free}"; then
  echo "suites: not run, too little disk space (above)"
  exit 1
fi

# A full run on a fresh machine is mostly building the offline toolchain. airgap/prebuild.sh
# does that in the background at nice 19, in the time the suites leave the CPU idle; a
# suite that needs a part first waits for it on the part's lock (TXV_PREBUILD=0: no prebuild).
prebuild_pid="" prebuild_log=""
if [ $# -eq 0 ] && [ "${TXV_PREBUILD:-1}" = 1 ]; then
  prebuild_log=$(mktemp "${TMPDIR:-/tmp}/txv-prebuild.XXXXXX")
  trap 'rm -f "$run_started" "$prebuild_log"' EXIT
  nice -n 19 airgap/prebuild.sh >"$prebuild_log" 2>&1 &
  prebuild_pid=$!
fi

passed=0 failed=0 skipped=0 summary=() failed_logs=()
# Each suite's output is also kept, so that the end of the run can repeat why a suite failed:
# CI shows only the beginning and the end of a long run, and the reason sat in between.
logs=$(mktemp -d "${TMPDIR:-/tmp}/txv-suites.XXXXXX")
# The long suites' own timings (suite 50's steps, the stages of its first ci), repeated at
# the end for the same reason: the time budget of a CI run is spent in between.
export TXV_PIPELINE_TIMINGS=${TXV_PIPELINE_TIMINGS:-$logs/pipeline-timings.txt}
for suite in scripts/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ $# -gt 0 ]; then
    match=0; for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  printf '\n===== suite %s =====\n' "$name"
  start=$(date +%s)
  # Through a process substitution, not a pipe: a daemon a suite leaves running holding
  # the pipe would keep the run waiting for tee.
  bash "$suite" > >(tee "$logs/$name.log") 2>&1; rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0) passed=$((passed + 1)); summary+=("PASS  $name (${secs}s)"); rm -f "$logs/$name.log" ;;
    3) skipped=$((skipped + 1)); summary+=("SKIP  $name (${secs}s)"); rm -f "$logs/$name.log" ;;
    *) failed=$((failed + 1)); summary+=("FAIL  $name (${secs}s, exit $rc)"); failed_logs+=("$name") ;;
  esac
done

if [ -n "$prebuild_pid" ]; then
  printf '\n===== background prebuild =====\n'
  wait "$prebuild_pid"; rc=$?
  grep -E 'prebuild: ' "$prebuild_log"
  # The suites built or waited for every part they use, so a part that failed here has
  # failed a suite as well; it is reported, not counted twice.
  if [ $rc != 0 ]; then
    kept=${TMPDIR:-/tmp}/txv-prebuild-failed.log
    cp "$prebuild_log" "$kept"
    echo "prebuild failed (exit $rc); its errors (whole log: $kept):"
    grep -iE 'error|fail|denied|no such' "$prebuild_log" | grep -v '^go: downloading' | tail -20
  fi
fi

# The Go build cache counts as used now (cache-gc.sh evicts it only after every older entry).
gocache=$(go env GOCACHE 2>/dev/null) && [ -d "$gocache" ] && touch "$gocache/.used"

# After a full run that passed, every build still pinned was used just now: what was not
# is an old pin's, and goes (TXV_CACHE_SWEEP=0 keeps it, e.g. when switching branches).
if [ $# -eq 0 ] && [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ] && [ "${TXV_CACHE_SWEEP:-1}" = 1 ]; then
  printf '\n===== cache sweep =====\n'
  airgap/cache-gc.sh sweep "$run_started" || true
fi

if [ -s "$TXV_PIPELINE_TIMINGS" ]; then
  printf '\n===== suite 50 timings =====\n'
  cat "$TXV_PIPELINE_TIMINGS"
fi

for name in "${failed_logs[@]}"; do
  printf '\n===== why %s failed: its last %s lines (whole: %s) =====\n' "$name" "${TXV_FAIL_TAIL:-30}" "$logs/$name.log"
  tail -n "${TXV_FAIL_TAIL:-30}" "$logs/$name.log"
done

printf '\n===== summary =====\n'
printf '%s\n' "${summary[@]}"
echo "suites: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
