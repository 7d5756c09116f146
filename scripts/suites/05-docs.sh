#!/usr/bin/env bash
# Suite: documentation kept as code. The rendered diagrams match their sources, and
# every runbook link in the alerting rules points at a section that exists.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

scripts/render-docs.sh --check

# GitHub's anchor for "## Error budget burn" is "#error-budget-burn".
anchors=$(grep -E '^#{2,3} ' docs/runbook.md | sed -E 's/^#+ //' | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 -]//g; s/ /-/g')
status=0
while read -r a; do
  [ -n "$a" ] || continue
  if ! grep -qx "$a" <<<"$anchors"; then
    log "runbook link #$a has no section in docs/runbook.md"
    status=1
  fi
done < <(grep -ohE 'docs/runbook\.md#[a-z0-9-]+' -r kustomize infra 2>/dev/null | sed 's/.*#//' | sort -u)
[ $status = 0 ] && log "every runbook link resolves"
exit $status
