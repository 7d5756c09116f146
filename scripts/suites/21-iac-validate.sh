#!/usr/bin/env bash
# Suite 21: `tofu init` (from the offline provider mirror), `tofu validate` and `tofu test`
# (mock_provider "aws") for every module, the environments' root and the bootstrap root. The
# environments' root is tested once per environment: tests/<env>.tftest.hcl with <env>.tfvars.
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

roots=(infra/modules/* infra/envs infra/bootstrap)
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
  # A module that takes an aliased provider from its caller (configuration_aliases, e.g.
  # aws.dr) cannot be validated alone: tofu validate reports the alias missing. Its tests
  # configure every alias with a mock_provider, and tofu test validates the configuration
  # before any run, so such a module must have tests.
  if grep -qs configuration_aliases "$dir"/*.tf; then
    compgen -G "$dir/tests/*.tftest.hcl" >/dev/null || { failed+=("$dir (provider aliases and no tests)"); continue; }
    log "$dir takes provider aliases: validated by tofu test"
  else
    tofu -chdir="$dir" validate -no-color || { failed+=("$dir (validate)"); continue; }
  fi
  if [ "$dir" = infra/envs ]; then
    # One root, one var file per environment: each environment's test file runs with that
    # environment's values, and a test file without a var file is an error, not a skip.
    for t in "$dir"/tests/*.tftest.hcl; do
      env=$(basename "$t" .tftest.hcl)
      if [ ! -f "$dir/$env.tfvars" ]; then
        log "$t has no $dir/$env.tfvars"; failed+=("$dir ($env: no var file)"); continue
      fi
      printf -- '-- %s with %s.tfvars\n' "$dir" "$env"
      tofu -chdir="$dir" test -no-color -var-file="$env.tfvars" -filter="tests/$env.tftest.hcl" ||
        failed+=("$dir ($env test)")
    done
    for v in "$dir"/*.tfvars; do
      env=$(basename "$v" .tfvars)
      [ -f "$dir/tests/$env.tftest.hcl" ] || { log "$v has no tests/$env.tftest.hcl"; failed+=("$dir ($env: no tests)"); }
    done
  elif compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
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
