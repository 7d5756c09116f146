#!/usr/bin/env bash
# scripts/iac-docs.sh [INFRA_DIR] regenerates the terraform-docs tables (inputs, outputs,
# requirements, providers, module calls) inside the README.md of every module, of the
# environments' root and of the bootstrap under INFRA_DIR (default: this repository's infra/),
# with the configuration infra/.terraform-docs.yml. Suite 20 runs it on a copy to find
# stale READMEs. Needs terraform-docs on PATH: eval "$(airgap/iac-tools.sh)".
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
infra=${1:-$REPO_ROOT/infra}
# shellcheck disable=SC2016 # the command to run is printed, not run
command -v terraform-docs >/dev/null || { echo 'terraform-docs not found: eval "$(airgap/iac-tools.sh)"' >&2; exit 1; }
n=0
for dir in "$infra"/modules/* "$infra"/envs "$infra"/bootstrap; do
  compgen -G "$dir/*.tf" >/dev/null || continue
  grep -q '<!-- BEGIN_TF_DOCS -->' "$dir/README.md" 2>/dev/null ||
    { echo "$dir/README.md has no <!-- BEGIN_TF_DOCS --> / <!-- END_TF_DOCS --> markers" >&2; exit 1; }
  terraform-docs --config "$REPO_ROOT/infra/.terraform-docs.yml" "$dir" >/dev/null
  n=$((n + 1))
done
echo "terraform-docs: $n READMEs under $infra" >&2
