#!/usr/bin/env bash
# Suite: documentation kept as code. The rendered diagrams match their sources,
# every runbook link in the alerting rules points at a section that exists, every path
# the architecture's map of the repository names exists, every repository path and
# `dagger call` function any document names exists (scripts/check-doc-refs.sh), and the
# README's no-go.work decision holds.
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

# docs/architecture.md, "Map of the repository": every path it names exists (a glob, such
# as kustomize/rules*_test.go, names the files it matches, so it must match at least one).
map=$(sed -n '/^## Map of the repository$/,/^## /p' docs/architecture.md)
# shellcheck disable=SC2016 # the backquotes are Markdown's code spans, not a command
paths=$(grep -oE '`[^` ]+`' <<<"$map" | tr -d '`' | grep '/' | sort -u || true)
if [ "$(wc -w <<<"$paths")" -lt 20 ]; then
  log "docs/architecture.md: the map of the repository names $(wc -w <<<"$paths") paths (section missing?)"
  status=1
fi
for p in $paths; do
  # compgen -G hands a pattern without wildcards back as it is, so each match is tested.
  found=0
  while read -r m; do [ -n "$m" ] && [ -e "$m" ] && found=1; done < <(compgen -G "$p" || true)
  if [ $found = 0 ]; then
    log "docs/architecture.md names $p, which does not exist"
    status=1
  fi
done
[ $status = 0 ] && log "every path in the map of the repository exists"

# Every path and pipeline function the documents name exists. First the check itself, on
# a planted tree: it must name each bad reference with its file and line, and only those.
planted=$(mktemp -d)
trap 'rm -rf "$planted"' EXIT
mkdir -p "$planted/ci" "$planted/docs" "$planted/svc"
cat >"$planted/ci/main.go" <<'GO'
package main

func New(
	ctx context.Context,
	source *dagger.Directory,
	airgapped bool,
) (*Pipeline, error) {
	return &Pipeline{}, nil
}

func (m *Pipeline) ScanImage(ctx context.Context) (string, error) { return "", nil }
func (m *Pipeline) helper() {}
GO
touch "$planted/svc/real.go"
# shellcheck disable=SC2016 # the backquotes are Markdown's code spans
printf '%s\n' '# Planted' \
  'Good: `svc/real.go`, `svc/*.go`, `svc/real.go:12`, `dagger call --airgapped scan-image`.' \
  'Bad path: `svc/missing.go`.' \
  'Not paths: `svc/<name>.go`, `the svc/ folder`.' \
  '```sh' \
  'dagger call --source . scan-image   # a dagger call on prose is not read' \
  'dagger call nosuch-function --x' \
  '```' \
  'Unexported: `dagger call helper`.' >"$planted/docs/planted.md"
git -C "$planted" init -q
# shellcheck disable=SC2016
want='docs/planted.md:3: `svc/missing.go` does not exist
docs/planted.md:7: `dagger call nosuch-function`
docs/planted.md:9: `dagger call helper`'
if got=$(scripts/check-doc-refs.sh "$planted" 2>&1); then
  log "scripts/check-doc-refs.sh passed a planted tree with three bad references"
  status=1
elif [ "$(sed -E 's/: ci\/\*\.go has no function.*$//' <<<"$got")" != "$want" ]; then
  log "scripts/check-doc-refs.sh on the planted tree printed:"
  printf '%s\n' "$got" >&2
  log "where it should have named exactly:"
  printf '%s\n' "$want" >&2
  status=1
elif ! refs=$(scripts/check-doc-refs.sh); then
  printf '%s\n' "$refs" >&2
  log "the documents name paths or pipeline functions that do not exist (above)"
  status=1
else
  log "every repository path and dagger call function the documents name exists"
fi

# README.md, "Ten Go modules, no go.work": a workspace file would change the versions
# every module builds with (measured there), so none is committed and the suites never
# use one a developer keeps elsewhere.
if git ls-files --error-unmatch go.work go.work.sum >/dev/null 2>&1 || [ -e go.work ]; then
  log "go.work at the repository root: see README.md, \"Nine Go modules, no go.work\""
  status=1
elif [ "$(go env GOWORK)" != "off" ]; then
  log "scripts/lib.sh must export GOWORK=off (go env GOWORK: $(go env GOWORK))"
  status=1
else
  log "no go.work; the go command runs without a workspace (GOWORK=off)"
fi
exit $status
