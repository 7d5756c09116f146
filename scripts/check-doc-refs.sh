#!/usr/bin/env bash
# check-doc-refs.sh [ROOT]: every reference the documentation makes to the repository must
# resolve, so a renamed file or pipeline function breaks the docs suite instead of a reader.
#
# Read: every Markdown file under docs/ and every README.md, as the repository holds them
# (tracked files plus new ones not ignored). Two checks, each printing every offender as
# FILE:LINE: message, and the script exits 1 if there is any:
#
#  - paths: an inline code span (`...`) that starts with a top-level folder (svc/ infra/
#    kustomize/ ci/ airgap/ scripts/ docs/ .github/) and holds no space and no <placeholder>
#    must exist; a glob must match at least one file, and {a,b} names both. An #anchor or a
#    :LINE suffix is dropped first. A path a .gitignore rule covers passes: it names a
#    generated file (ci/dagger.gen.go), which no checkout holds.
#  - pipeline functions: `dagger call FUNCTION` in a code span or a fenced code block must
#    name an exported method of the Dagger module's object in ci/*.go, in the kebab-case
#    Dagger's CLI gives it (ScanImage -> scan-image). Constructor flags before the function
#    (--airgapped, --source DIR, --infra DIR, --svc DIR, --tests DIR, --runbook FILE, --go-proxy=URL) are skipped; which of them take a value is
#    read from New's parameters in ci/main.go. Shell comments in fenced blocks are prose and
#    are not read.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT"

prefixes='svc|infra|kustomize|ci|airgap|scripts|docs|\.github'
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'docs/*.md' 'README.md' '*/README.md' | sort -u)
[ ${#files[@]} -gt 0 ] || { echo "check-doc-refs: no Markdown files found under $ROOT" >&2; exit 1; }

# The module's functions: exported methods of the object type named by ci/main.go's New.
obj=$(sed -nE 's/^func New\(.*$//; s/^\) \(?\*([A-Z][A-Za-z0-9]*)(, error\))? \{$/\1/p' ci/main.go | head -1)
[ -n "$obj" ] || { echo "ci/main.go: no 'func New(...) *Object' or '(*Object, error)' constructor found" >&2; exit 1; }
sources=()
for g in ci/*.go; do [[ $g == *_test.go ]] || sources+=("$g"); done
functions=$(grep -hoE "^func \([a-z]+ \*$obj\) [A-Z][A-Za-z0-9]*\(" "${sources[@]}" |
  sed -E 's/.*\) ([A-Za-z0-9]+)\($/\1/; s/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]' | sort -u)
[ -n "$functions" ] || { echo "ci/*.go: no exported method of $obj found" >&2; exit 1; }
declare -A is_function=() takes_value=()
for w in $functions; do is_function[$w]=1; done
# New's parameters that take a value on the command line (all but bools), kebab-cased.
valued=$(sed -n '/^func New(/,/^) /p' ci/main.go | grep -E '^\s+[a-z][A-Za-z0-9]* [^ ]+,$' |
  grep -vE ' (bool|context\.Context),$' | awk '{print $1}' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]')
for w in $valued; do takes_value[$w]=1; done

# exists PATH: PATH, a glob or one {a,b,...} alternation, names at least one file.
exists() {
  local p=$1 alt m
  if [[ $p =~ ^(.*)\{([^{}]*)\}(.*)$ ]]; then
    local pre=${BASH_REMATCH[1]} post=${BASH_REMATCH[3]}
    IFS=, read -ra alt <<<"${BASH_REMATCH[2]}"
    for m in "${alt[@]}"; do exists "$pre$m$post" || return 1; done
    return 0
  fi
  # compgen -G hands a pattern without wildcards back as it is, so each match is tested.
  while read -r m; do [ -n "$m" ] && [ -e "$m" ] && return 0; done < <(compgen -G "$p" || true)
  git check-ignore -q --no-index -- "$p" 2>/dev/null
}

# code FILE prints "LINE<TAB>kind<TAB>text" for each inline code span (kind "span") and
# each line of a fenced block (kind "fence", shell comments removed).
code() {
  awk '
    /^ *(```|~~~)/ { fenced = !fenced; next }
    fenced { line = $0; sub(/(^| )#.*$/, "", line); printf "%d\tfence\t%s\n", NR, line; next }
    {
      line = $0
      while (match(line, /`[^`]+`/)) {
        printf "%d\tspan\t%s\n", NR, substr(line, RSTART + 1, RLENGTH - 2)
        line = substr(line, RSTART + RLENGTH)
      }
    }' "$1"
}

status=0
offend() { echo "$1: $2"; status=1; }

for f in "${files[@]}"; do
  while IFS=$'\t' read -r n kind text; do
    # Paths.
    if [ "$kind" = span ] && [[ $text =~ ^($prefixes)/ ]] && [[ $text != *[[:space:]\<\>]* ]]; then
      p=${text%%#*}
      [[ $p =~ ^(.*):[0-9]+(-[0-9]+)?$ ]] && p=${BASH_REMATCH[1]}
      exists "$p" || offend "$f:$n" "\`$text\` does not exist"
    fi
    # Pipeline functions.
    rest=$text
    while [[ $rest =~ dagger[[:space:]]+call([[:space:]].*)?$ ]]; do
      rest=${BASH_REMATCH[1]}
      read -ra words <<<"$rest"
      fn=""
      i=0
      while [ $i -lt ${#words[@]} ]; do
        w=${words[$i]}
        if [[ $w == --* ]]; then
          flag=${w#--}
          [[ $flag != *=* && -n ${takes_value[$flag]:-} ]] && i=$((i + 1))
          i=$((i + 1))
          continue
        fi
        fn=$w
        break
      done
      # Only a word that can be a function name: `dagger call ...`, `dagger call` alone and
      # shell syntax after it name none.
      fn=${fn%%[\`\"\')]*}
      if [[ $fn =~ ^[a-z][a-z0-9-]*$ && -z ${is_function[$fn]:-} ]]; then
        offend "$f:$n" "\`dagger call $fn\`: ci/*.go has no function $fn (functions: $(tr '\n' ' ' <<<"$functions"))"
      fi
    done
  done < <(code "$f")
done
exit $status
