#!/usr/bin/env bash
# Suite: the Go code of the root module (the transaction-validator service and the FX
# rates ETL job). Unit tests; integration and fault tests on real PostgreSQL, Redis and
# PgBouncer from Debian and a real S3 (versitygw), all started by the tests on 127.0.0.1
# in temp dirs; the race detector; and a short run of every fuzz target. Among the
# integration tests, the restore drill (TestRestoreDrill, docs/disaster-recovery.md) loses
# a PostgreSQL under load and restores it from its WAL archive, bounded to two minutes.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

# shellcheck disable=SC2086 # the list is space-separated on purpose
ensure_apt $DEBIAN_TEST_PACKAGES
# The S3-compatible server the ETL job's tests write to, and promtool, which checks and
# unit-tests the alerting rules (svc/internal/monitoring): built once and cached, unless the
# caller brings them (the pipeline's test stage takes them from their images).
VERSITYGW_BIN=${VERSITYGW_BIN:-$(versitygw_bin)}
PROMTOOL_BIN=${PROMTOOL_BIN:-$(promtool_bin)}
for bin in "$VERSITYGW_BIN" "$PROMTOOL_BIN"; do [ -x "$bin" ] || die "$bin: not an executable"; done
export VERSITYGW_BIN PROMTOOL_BIN

log "gofmt and go vet"
unformatted=$(gofmt -l svc)
[ -z "$unformatted" ] || die "gofmt wants to change: $unformatted"
go vet ./...

log "go test (race detector; integration tests must not skip: TXV_REQUIRE_SERVERS=1)"
TXV_REQUIRE_SERVERS=1 go test -race -count=1 -timeout 15m ./...

# Each fuzz target runs briefly on every CI run, on top of its seed corpus run above;
# long campaigns are run by hand: go test -fuzz=FuzzX -fuzztime=30m ./svc/internal/...
FUZZTIME=${FUZZTIME:-15s}
for target in svc/internal/validation:FuzzDecodeTransaction svc/internal/validation:FuzzHandler \
              svc/internal/validation:FuzzStrictDecoding \
              svc/internal/card:FuzzPAN svc/internal/fxrates:FuzzParseECB; do
  pkg=${target%%:*} fn=${target##*:}
  log "fuzz $fn for $FUZZTIME"
  go test -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" "./$pkg"
done
