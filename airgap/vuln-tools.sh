#!/usr/bin/env bash
# airgap/vuln-tools.sh installs what scans Go code for known vulnerabilities offline:
# govulncheck (golang.org/x/vuln) and the Go vulnerability database, both from the Go
# module proxy.
#
#   eval "$(airgap/vuln-tools.sh)"   # sets PATH (govulncheck), GOVULNDB (a file:// URL)
#
# The database is itself a Go module: golang.org/x/vulndb at GOVULNDB_VERSION holds the OSV
# reports (data/osv) and the command that lays them out as the database govulncheck reads
# (cmd/indexdb: index/db.json, index/modules.json, index/vulns.json, ID/<id>.json, each
# also gzipped). Its sibling cmd/gendb does the same from a git clone of the repository,
# which a module zip is not, so indexdb is the one that works from the proxy.
#
# Logs go to stderr; stdout is only `export ...` lines. Each part lands in
# ~/.cache/<name>-<pinned version> behind a lock and a .complete stamp, so a warm run builds
# nothing and airgap/prebuild.sh may run this beside a suite.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

command -v go >/dev/null || die "go is required to build the vulnerability tools"

# mod_dir MODULE@VERSION prints the module's directory in the module cache, downloading it.
mod_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then die "go mod download $1 failed"; fi
  echo "$dir"
}

# ---- govulncheck ------------------------------------------------------------------------
# Built in the module's own directory with its go.sum (not `go install m@v`, which first
# asks the proxy for the module's version list, refused for many modules here).
VULNCHECK_DIR=$CACHE_ROOT/govulncheck-$GOVULNCHECK_VERSION
mkdir -p "$CACHE_ROOT"
exec {vc_lock}>"$VULNCHECK_DIR.lock"
flock "$vc_lock"
if [ ! -f "$VULNCHECK_DIR/.complete" ]; then
  log "building govulncheck $GOVULNCHECK_VERSION from the Go module proxy (cached in $VULNCHECK_DIR)"
  src=$(mod_dir "golang.org/x/vuln@$GOVULNCHECK_VERSION")
  rm -rf "$VULNCHECK_DIR"; mkdir -p "$VULNCHECK_DIR/bin"
  (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" \
     -o "$VULNCHECK_DIR/bin/govulncheck" ./cmd/govulncheck) >&2 \
    || { rm -rf "$VULNCHECK_DIR"; die "govulncheck build failed"; }
  touch "$VULNCHECK_DIR/.complete"
fi
exec {vc_lock}>&-
cache_used "$VULNCHECK_DIR"

# ---- the database -------------------------------------------------------------------------
# Written into a .partial directory and renamed at the end, so an interrupted build is never
# taken for a finished one.
VULNDB_DIR=$CACHE_ROOT/govulndb-$GOVULNDB_VERSION
exec {db_lock}>"$VULNDB_DIR.lock"
flock "$db_lock"
if [ ! -f "$VULNDB_DIR/.complete" ]; then
  log "building the Go vulnerability database golang.org/x/vulndb@$GOVULNDB_VERSION (cached in $VULNDB_DIR)"
  src=$(mod_dir "golang.org/x/vulndb@$GOVULNDB_VERSION")
  rm -rf "$VULNDB_DIR.partial"; mkdir -p "$VULNDB_DIR.partial/bin"
  if ! (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" \
          -o "$VULNDB_DIR.partial/bin/indexdb" ./cmd/indexdb &&
        "$VULNDB_DIR.partial/bin/indexdb" -vulns "$src/data/osv" -out "$VULNDB_DIR.partial/db") >&2; then
    rm -rf "$VULNDB_DIR.partial"; die "vulnerability database build failed"
  fi
  # The database's date. The reports in data/osv carry no dates of their own ("modified":
  # zero): upstream stamps them from the git history, which a module zip does not have, so
  # index/db.json says year 1. The date of the database is the commit the pinned
  # pseudo-version was cut from (the proxy's .info "Time"), which is what goes into db.json
  # (and its gzipped copy, which govulncheck may read instead).
  db_time=$(go list -m -json "golang.org/x/vulndb@$GOVULNDB_VERSION" | sed -n 's/.*"Time": "\(.*\)".*/\1/p')
  [ -n "$db_time" ] || { rm -rf "$VULNDB_DIR.partial"; die "cannot read the commit time of golang.org/x/vulndb@$GOVULNDB_VERSION"; }
  printf '{"modified":"%s"}' "$db_time" >"$VULNDB_DIR.partial/db/index/db.json"
  gzip -n -c "$VULNDB_DIR.partial/db/index/db.json" >"$VULNDB_DIR.partial/db/index/db.json.gz"
  # Provenance: the module and the number of reports it was built from.
  printf 'golang.org/x/vulndb@%s\n%s reports\n' "$GOVULNDB_VERSION" \
    "$(find "$src/data/osv" -name '*.json' | wc -l)" >"$VULNDB_DIR.partial/SOURCE"
  rm -rf "$VULNDB_DIR"; mv "$VULNDB_DIR.partial" "$VULNDB_DIR"
  touch "$VULNDB_DIR/.complete"
fi
exec {db_lock}>&-
cache_used "$VULNDB_DIR"

cat <<EOF
export PATH="$VULNCHECK_DIR/bin:\$PATH"
export GOVULNDB="file://$VULNDB_DIR/db"
EOF
