#!/usr/bin/env bash
# Suite 11: the operator console's automated WCAG 2.2 A/AA audit. axe-core (AXE_CORE_VERSION
# from the npm registry, checked against AXE_CORE_INTEGRITY, cached: scripts/lib.sh
# axe_core_js) runs in Debian's headless Chromium against the console's pages, served by
# the test on 127.0.0.1 over a generated audit table in PostgreSQL, in every state an
# operator sees (page, charts, results, detail, a refused field, 390 px). Any violation
# fails. Bounded: one test, about a minute; the go test timeout stops a hang.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

# shellcheck disable=SC2086 # the list is space-separated on purpose
ensure_apt $DEBIAN_TEST_PACKAGES
command -v npm >/dev/null || ensure_apt npm
AXE_CORE_JS=${AXE_CORE_JS:-$(axe_core_js)} || die "axe-core $AXE_CORE_VERSION: not fetched or not the pinned integrity"
[ -s "$AXE_CORE_JS" ] || die "$AXE_CORE_JS: empty or missing"
export AXE_CORE_JS

log "axe-core $AXE_CORE_VERSION on the operator console in headless Chromium"
out=$(mktemp "${TMPDIR:-/tmp}/a11y.XXXXXX")
trap 'rm -f "$out"' EXIT
rc=0
TXV_REQUIRE_SERVERS=1 go test -count=1 -timeout 5m -run '^TestAccessibilityWithAxe$' -v ./svc/internal/console/ >"$out" 2>&1 || rc=$?
grep -vE '^\s*$' "$out" | tail -40
[ "$rc" = 0 ] || die "WCAG audit failed (exit $rc)"
# A skip would pass silently: the audit must have run.
grep -q -- '--- PASS: TestAccessibilityWithAxe' "$out" || die "the WCAG audit did not run"
