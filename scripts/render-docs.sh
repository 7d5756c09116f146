#!/usr/bin/env bash
# Renders the diagrams kept as code in docs/ (Graphviz, from Debian). With --check it
# renders to a temporary file and fails if the committed rendering is out of date.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
ensure_apt graphviz
check=0
[ "${1:-}" = "--check" ] && check=1
status=0
for src in docs/*.dot; do
  out=docs/img/$(basename "$src" .dot).svg
  tmp=$(mktemp)
  dot -Tsvg "$src" > "$tmp"
  if [ $check = 1 ]; then
    if ! cmp -s "$tmp" "$out"; then
      log "$out is out of date: run scripts/render-docs.sh"
      status=1
    fi
    rm -f "$tmp"
  else
    mv "$tmp" "$out"
    log "rendered $out"
  fi
done
exit $status
