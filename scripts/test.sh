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

passed=0 failed=0 skipped=0 summary=()
for suite in scripts/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ $# -gt 0 ]; then
    match=0; for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  printf '\n===== suite %s =====\n' "$name"
  start=$(date +%s)
  bash "$suite"; rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0) passed=$((passed + 1)); summary+=("PASS  $name (${secs}s)") ;;
    3) skipped=$((skipped + 1)); summary+=("SKIP  $name (${secs}s)") ;;
    *) failed=$((failed + 1)); summary+=("FAIL  $name (${secs}s, exit $rc)") ;;
  esac
done

printf '\n===== summary =====\n'
printf '%s\n' "${summary[@]}"
echo "suites: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
