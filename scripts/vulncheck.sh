#!/usr/bin/env bash
# scripts/vulncheck.sh is the known-vulnerability gate of the Go code, offline: govulncheck
# against the Go vulnerability database built from the pinned golang.org/x/vulndb module
# (airgap/vuln-tools.sh), never the internet.
#
#   scripts/vulncheck.sh [--bin-dir DIR] [ROOT]
#
# - Source mode on every Go module under ROOT (default: the repository): each directory
#   holding a go.mod, found on disk rather than listed here, so a new module is scanned
#   without anyone remembering to add it. A finding counts only when the vulnerable symbol
#   is reachable from the module's code (govulncheck's call graph).
# - Binary mode on every built binary: the executables in --bin-dir if given (a build
#   stage's output), else every main package of ROOT's top module, built here the way the
#   images are built (-trimpath, -ldflags "-s -w"). The deployed images hold only these
#   static binaries, so this covers what runs in production.
# - The database's date is printed in the summary, and the gate fails when the database is
#   older than VULNDB_MAX_AGE_DAYS (default 45) days: a stale database passes code it
#   should not, which must be seen, not assumed away.
#
# - Accepted findings live in ROOT/vulncheck.allow, one a line: `ID EXPIRES REASON`
#   (GO-2026-6617 2027-01-31 why it cannot be fixed yet). An entry applies until its
#   EXPIRES date (YYYY-MM-DD) and names its reason; past that date the finding fails again,
#   so an acceptance is a decision with a deadline, never a silent, permanent hole.
#
# Exit status: 0 clean, 1 a vulnerability is reachable, the database is too old, or a scan
# could not run (a module that does not load is a failure, never a pass).
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=lib.sh
. "$REPO_ROOT/scripts/lib.sh"

bin_dir=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see $0 --help)" ;;
    *) break ;;
  esac
done
root=$(cd "${1:-$REPO_ROOT}" && pwd)
max_age=${VULNDB_MAX_AGE_DAYS:-45}
[[ $max_age =~ ^[0-9]+$ ]] || die "VULNDB_MAX_AGE_DAYS must be a whole number of days, not '$max_age'"

eval "$("$REPO_ROOT/airgap/vuln-tools.sh")"
db_dir=${GOVULNDB#file://}

# ---- the database's age -------------------------------------------------------------------
# index/db.json's "modified" is the newest report's modification time: the database's date.
db_modified=$(sed -n 's/.*"modified":"\([^"]*\)".*/\1/p' "$db_dir/index/db.json")
[ -n "$db_modified" ] || die "cannot read the database's date from $db_dir/index/db.json"
db_date=${db_modified%%T*}
age_days=$(( ($(date -u +%s) - $(date -u -d "$db_modified" +%s)) / 86400 ))

# ---- accepted findings ------------------------------------------------------------------------
allow_file=$root/vulncheck.allow
declare -A allowed=()
today=$(date -u +%F)
if [ -f "$allow_file" ]; then
  n=0
  while read -r id expires reason; do
    n=$((n + 1))
    case $id in ''|'#'*) continue ;; esac
    [[ $id =~ ^GO-[0-9]{4}-[0-9]+$ ]] || die "$allow_file:$n: '$id' is not a Go vulnerability ID (GO-YYYY-NNNN)"
    if ! [[ $expires =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || ! date -u -d "$expires" +%F >/dev/null 2>&1; then
      die "$allow_file:$n: $id: '$expires' is not an expiry date (YYYY-MM-DD)"
    fi
    [ -n "$reason" ] || die "$allow_file:$n: $id: no reason given"
    if [[ $expires > $today || $expires == "$today" ]]; then
      allowed[$id]=$expires
    else
      log "$allow_file:$n: $id expired on $expires: it counts again"
    fi
  done <"$allow_file"
fi

failures=() summary=()
record() { # VERDICT KIND NAME [DETAIL]
  summary+=("$(printf '%-5s %-7s %s%s' "$1" "$2" "$3" "${4:+  ($4)}")")
  [ "$1" = PASS ] || failures+=("$2 $3")
}

# scan KIND NAME NOTE ARGS...: one govulncheck run. Exit 0 is clean, 3 is a finding at
# the scan's level (its text output lists exactly those, as "Vulnerability #N: ID"); a
# finding passes only when vulncheck.allow accepts it. Any other exit means the scan
# itself failed, which fails the gate just the same.
scan() {
  local kind=$1 name=$2 note=$3 out rc=0 id found=() open=() accepted=(); shift 3
  out=$(govulncheck -db "$GOVULNDB" "$@" 2>&1) || rc=$?
  case $rc in
    0) record PASS "$kind" "$name" "$note" ;;
    3) mapfile -t found < <(sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9]*-[0-9]*\)$/\1/p' <<<"$out" | sort -u)
       for id in "${found[@]}"; do
         if [ -n "${allowed[$id]:-}" ]; then accepted+=("$id"); else open+=("$id"); fi
       done
       if [ ${#found[@]} -gt 0 ] && [ ${#open[@]} -eq 0 ]; then
         record PASS "$kind" "$name" "${note:+$note; }accepted in vulncheck.allow: ${accepted[*]}"
       else
         record FAIL "$kind" "$name" "${open[*]:-no finding IDs in the output}${accepted:+; accepted: ${accepted[*]}}"
         printf '\n----- govulncheck %s %s -----\n%s\n' "$kind" "$name" "$out"
       fi ;;
    *) record ERROR "$kind" "$name" "govulncheck exit $rc"
       printf '\n----- govulncheck %s %s (exit %s) -----\n%s\n' "$kind" "$name" "$rc" "$out" ;;
  esac
}

# ---- source mode: every module ---------------------------------------------------------------
mapfile -t modules < <(cd "$root" && find . -name go.mod -not -path '*/testdata/*' \
  -not -path '*/vendor/*' -not -path '*/.git/*' -not -path '*/node_modules/*' -printf '%h\n' | sort)
[ ${#modules[@]} -gt 0 ] || die "no go.mod under $root"
dagger_src=""
[ -f "$root/dagger.json" ] && dagger_src=$(sed -n 's/^  "source": *"\([^"]*\)".*/\1/p' "$root/dagger.json")  # top level only
for mod in "${modules[@]}"; do
  name=${mod#./}; [ "$mod" = . ] && name=.
  # A module with no packages of its own (a go.mod that only pins what a build script
  # compiles) has no code to reach anything from: there is nothing to scan in source mode.
  # (-e: a package that fails to load is still listed, and then fails the scan below.)
  if [ -z "$(cd "$root/$mod" && go list -e ./... 2>/dev/null)" ]; then
    record PASS source "$name" "no Go packages"
    continue
  fi
  # The Dagger module's SDK (internal/dagger, ...) is generated by `dagger develop` and not
  # committed, and the pipeline receives the source without it: without it the module's
  # packages cannot load, so there is no call graph to scan. (Module level is no stand-in:
  # it fails on every old version in the SDK's own requirement graph, reached or not.)
  # Said in the summary as NOT RUN, never passed silently.
  if [ "$mod" = "./$dagger_src" ] && [ ! -d "$root/$mod/internal/dagger" ]; then
    # shellcheck disable=SC2016 # backquotes name a command, they run none
    summary+=("$(printf 'NOT RUN source  %s  (its generated Dagger SDK is absent: `dagger develop` makes it)' "$name")")
    continue
  fi
  scan source "$name" "" -C "$root/$mod" ./...
done

# ---- binary mode: every built binary -------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vulncheck.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "$bin_dir" ] && [ -f "$root/go.mod" ]; then
  mapfile -t mains < <(cd "$root" && go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... | sed '/^$/d')
  if [ ${#mains[@]} -gt 0 ]; then
    bin_dir=$tmp/bin; mkdir -p "$bin_dir"
    (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/" "${mains[@]}") ||
      die "building the binaries of $root failed"
  fi
fi
if [ -n "$bin_dir" ]; then
  nbins=0
  for bin in "$bin_dir"/*; do
    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
    nbins=$((nbins + 1))
    scan binary "$(basename "$bin")" "" -mode binary "$bin"
  done
  [ "$nbins" -gt 0 ] || record ERROR binary "$bin_dir" "no executables to scan"
fi

# ---- summary -----------------------------------------------------------------------------
db_line="Go vulnerability database of $db_date (golang.org/x/vulndb@$GOVULNDB_VERSION, $(grep -o '^[0-9]* reports' "$db_dir/../SOURCE")): $age_days days old, limit $max_age"
if [ "$age_days" -gt "$max_age" ]; then
  record FAIL database "$db_date" "$age_days days old, older than VULNDB_MAX_AGE_DAYS=$max_age: update GOVULNDB_VERSION in airgap/versions.env"
fi
printf '\n===== govulncheck %s =====\n%s\n' "$GOVULNCHECK_VERSION" "$db_line"
printf '%s\n' "${summary[@]}"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'vulnerability gate FAILED: %s\n' "$(printf '%s; ' "${failures[@]}")"
  exit 1
fi
echo "vulnerability gate passed: no reachable known vulnerability"
