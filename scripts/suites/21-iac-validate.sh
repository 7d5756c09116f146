#!/usr/bin/env bash
# Suite 21: `tofu init` (from the offline provider mirror), `tofu validate` and `tofu test`
# (mock_provider "aws") for every module, every environment root and the bootstrap root.
#
# The AWS provider comes from airgap/iac-tools.sh, built from source with the services
# infra/ uses (airgap/awsprovider; ~15 CPU-min cold, cached in ~/.cache after that).
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=../lib.sh
. scripts/lib.sh

eval "$(nice -n 10 airgap/iac-tools.sh)"
[ -x "${IAC_AWS_PROVIDER:-}" ] || die "airgap/iac-tools.sh exported no AWS provider"

# One provider copy for all roots instead of one per .terraform directory. Keyed by what the
# mirror holds: tofu reuses a cached provider of the same version without comparing it with
# the mirror's, so a rebuilt provider must not find its predecessor here.
export TF_PLUGIN_CACHE_DIR=$CACHE_ROOT/iac-plugin-cache-$IAC_MIRROR_KEY
mkdir -p "$TF_PLUGIN_CACHE_DIR"
cache_used "$TF_PLUGIN_CACHE_DIR"
export TF_IN_AUTOMATION=1

roots=(infra/modules/* infra/envs/* infra/bootstrap)
failed=()
checked=0
for dir in "${roots[@]}"; do
  [ -d "$dir" ] || continue
  checked=$((checked + 1))
  printf '\n--- %s\n' "$dir"
  if ! tofu -chdir="$dir" init -backend=false -input=false -no-color >"$dir/.init.log" 2>&1; then
    cat "$dir/.init.log"; failed+=("$dir (init)"); rm -f "$dir/.init.log"; continue
  fi
  rm -f "$dir/.init.log"
  tofu -chdir="$dir" validate -no-color || { failed+=("$dir (validate)"); continue; }
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    tofu -chdir="$dir" test -no-color || failed+=("$dir (test)")
  else
    log "no tests in $dir"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED:\n'; printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "init, validate and test passed for $checked roots"
