#!/usr/bin/env bash
# Suite 15: the offline known-vulnerability gate (scripts/vulncheck.sh) on the repository,
# and on seeded defects that it must catch:
#   1. a module pinning golang.org/x/text v0.3.7 and calling language.ParseAcceptLanguage,
#      reachable GO-2022-1059: fails in source mode and in binary mode, naming the ID;
#   2. the same dependency with only unaffected symbols called: passes in source mode (the
#      gate is on reachable vulnerabilities, not on every version string); the stripped
#      binary still fails, since without a symbol table govulncheck can only tell which
#      module versions are linked in, so every vulnerability of them counts;
#   3. vulncheck.allow: an entry accepts a finding until its expiry date, then not;
#   4. a database older than VULNDB_MAX_AGE_DAYS: fails, naming the database's date.
# Then the repository itself: every module in source mode, every binary in binary mode.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
GATE=$REPO_ROOT/scripts/vulncheck.sh

failures=0
check() { if "$@"; then :; else log "CHECK FAILED: $*"; failures=$((failures + 1)); fi; }
has() { grep -qE -- "$2" <<<"$1"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vulncheck-suite.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# seeded DIR CALL: a one-package module on golang.org/x/text v0.3.7 whose main calls CALL.
seeded() {
  mkdir -p "$1"
  cat >"$1/go.mod" <<EOF
module example.com/seeded

go 1.26

require golang.org/x/text v0.3.7
EOF
  cat >"$1/main.go" <<EOF
// Command seeded is a seeded defect of suite 15.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	fmt.Println($2)
}
EOF
  (cd "$1" && GOFLAGS="$GOFLAGS -mod=mod" go mod tidy) >&2
}

log "seeded: a reachable GO-2022-1059 (golang.org/x/text v0.3.7, language.ParseAcceptLanguage)"
seeded "$tmp/vulnerable" 'language.ParseAcceptLanguage(os.Args[1])'
rc=0; out=$("$GATE" "$tmp/vulnerable" 2>&1) || rc=$?
printf '%s\n' "$out" | tail -6
check [ "$rc" -eq 1 ]
check has "$out" '^FAIL +source +\. +\(.*GO-2022-1059'
check has "$out" '^FAIL +binary +seeded +\(.*GO-2022-1059'
check has "$out" 'vulnerability gate FAILED'

log "seeded: the same old dependency, its vulnerable symbols not called"
seeded "$tmp/unreached" 'language.English.String(), len(os.Args)'
rc=0; out=$("$GATE" "$tmp/unreached" 2>&1) || rc=$?
printf '%s\n' "$out" | tail -4
check [ "$rc" -eq 1 ]
check has "$out" '^PASS +source +\.$'
check has "$out" '^FAIL +binary +seeded +\(.*GO-2022-1059'

log "seeded: the reachable finding accepted in vulncheck.allow, then the acceptance expired"
echo "GO-2022-1059 2999-12-31 seeded: accepted to test the allow-list" >"$tmp/vulnerable/vulncheck.allow"
rc=0; out=$("$GATE" "$tmp/vulnerable" 2>&1) || rc=$?
check has "$out" '^PASS +source +\. +\(accepted in vulncheck.allow: GO-2022-1059\)$'
echo "GO-2022-1059 2020-01-31 seeded: an acceptance that ran out" >"$tmp/vulnerable/vulncheck.allow"
rc=0; out=$("$GATE" "$tmp/vulnerable" 2>&1) || rc=$?
check [ "$rc" -eq 1 ]
check has "$out" 'GO-2022-1059 expired on 2020-01-31'
check has "$out" '^FAIL +source +\. +\(GO-2022-1059'
echo "GO-2022-1059 someday no reason" >"$tmp/vulnerable/vulncheck.allow"
rc=0; out=$("$GATE" "$tmp/vulnerable" 2>&1) || rc=$?
check [ "$rc" -eq 1 ]
check has "$out" "'someday' is not an expiry date"
rm "$tmp/vulnerable/vulncheck.allow"

log "seeded: a database older than the limit (VULNDB_MAX_AGE_DAYS=0)"
rc=0; out=$(VULNDB_MAX_AGE_DAYS=0 "$GATE" "$tmp/unreached" 2>&1) || rc=$?
printf '%s\n' "$out" | tail -4
check [ "$rc" -eq 1 ]
check has "$out" '^FAIL +database +[0-9]{4}-[0-9]{2}-[0-9]{2} +\(.*older than VULNDB_MAX_AGE_DAYS=0'

log "the repository: every Go module (source) and every binary of the top module"
rc=0; "$GATE" || rc=$?
check [ "$rc" -eq 0 ]

if [ "$failures" -gt 0 ]; then log "suite 15: $failures check(s) failed"; exit 1; fi
log "suite 15: passed"
