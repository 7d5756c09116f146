#!/usr/bin/env bash
# Suite 22: the committed provider lock files (infra/envs and infra/bootstrap, the two roots
# that are ever applied) are what `tofu init -lockfile=readonly` (ci/infra.go) accepts:
#   1. each root inits read-only against the offline provider mirror, and its lock file is
#      left byte for byte as committed;
#   2. the same init fails when the lock file is missing and when one of its hashes is
#      altered: the check is real;
#   3. online mode, modelled offline: a second mirror holds a different package of the same
#      provider version (as the registry's build of a provider differs from the one compiled
#      here). A read-only init against it fails with the mirror-only lock; after the command
#      an adopter runs once online (`tofu providers lock`, here `-fs-mirror` standing in for
#      the registry) the lock holds both hashes and a read-only init passes against either
#      package. That command merges hashes instead of replacing them, which is what lets one
#      committed lock file serve both modes (infra/README.md, "Lock files").
# A provider pin change (airgap/versions.env) changes the mirror's hashes: regenerate the lock
# files with the command printed on failure.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=../lib.sh
. scripts/lib.sh

eval "$(nice -n 10 airgap/iac-tools.sh)"
mirror=$CACHE_ROOT/iac-mirror-$IAC_MIRROR_KEY
[ -d "$mirror" ] || die "airgap/iac-tools.sh exported no provider mirror ($mirror)"
export TF_IN_AUTOMATION=1 TF_INPUT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/iac-lock.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
fail() { log "FAIL: $*"; failed+=("$*"); }
# init_ro DIR DATA_DIR LOG: a read-only init without a backend, as ci/infra.go runs it.
init_ro() { TF_DATA_DIR=$2 tofu -chdir="$1" init -backend=false -lockfile=readonly -no-color >"$3" 2>&1; }

roots=(infra/envs infra/bootstrap)
for root in "${roots[@]}"; do
  printf '\n--- %s\n' "$root"
  lock=$root/.terraform.lock.hcl
  if ! git ls-files --error-unmatch "$lock" >/dev/null 2>&1; then
    fail "$lock is not committed"; continue
  fi
  # 1. read-only init passes and leaves the committed file as it is.
  if init_ro "$root" "$work/data-$(basename "$root")" "$work/init.log"; then
    git diff --quiet -- "$lock" || fail "init changed $lock"
    echo "ok: init -lockfile=readonly against the offline mirror"
  else
    cat "$work/init.log"
    fail "$root: init -lockfile=readonly failed; if the provider pin changed, regenerate with:
  tofu -chdir=$root init -backend=false && tofu -chdir=$root providers lock -fs-mirror=$mirror -platform=linux_amd64"
    continue
  fi
  # 2. a copy of infra/ (the roots reach ../modules) without the lock, then with a bad hash.
  rm -rf "$work/infra"; cp -r infra "$work/infra"
  copy=$work/$root
  rm "$copy/.terraform.lock.hcl"
  if init_ro "$copy" "$work/data-missing" "$work/missing.log"; then
    fail "$root: init -lockfile=readonly passed without a lock file"
  elif grep -q 'Provider dependency changes detected' "$work/missing.log"; then
    echo "ok: refused without a lock file"
  else
    cat "$work/missing.log"; fail "$root: init failed without a lock file, but not for that reason"
  fi
  # Every h1: hash of the file replaced by one of the same form over other content.
  sed 's/"h1:[^"]*"/"h1:47DEQpj8HBSa+\/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="/' "$lock" >"$copy/.terraform.lock.hcl"
  if init_ro "$copy" "$work/data-altered" "$work/altered.log"; then
    fail "$root: init -lockfile=readonly passed with altered hashes"
  elif grep -q "doesn't match any of the checksums" "$work/altered.log"; then
    echo "ok: refused with an altered hash"
  else
    cat "$work/altered.log"; fail "$root: init failed with altered hashes, but not for that reason"
  fi
done

# 3. Online mode, modelled: one provider, two different packages of the same version.
printf '\n--- one lock file for the offline mirror and the registry (modelled with two mirrors)\n'
rand_dir=$(find -L "$mirror/registry.opentofu.org/hashicorp/random" -mindepth 2 -maxdepth 2 -type d -name linux_amd64 | head -1)
[ -n "$rand_dir" ] || die "no hashicorp/random in $mirror"
rand_version=$(basename "$(dirname "$rand_dir")")
rand_bin=$(find -L "$rand_dir" -maxdepth 1 -type f | head -1)
other=$work/other-mirror/registry.opentofu.org/hashicorp/random/$rand_version/linux_amd64
mkdir -p "$other"
# Another build of the same version: the same binary with one more byte is another package
# (tofu hashes the package; `providers lock` and `init` never run it).
{ cat "$rand_bin"; printf '\n'; } >"$other/$(basename "$rand_bin")"
chmod +x "$other/$(basename "$rand_bin")"
other_rc=$work/other.tfrc
printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n    include = ["registry.opentofu.org/*/*"]\n  }\n}\n' "$work/other-mirror" >"$other_rc"
model=$work/model
mkdir -p "$model"
cat >"$model/main.tf" <<TF
terraform {
  required_providers {
    random = { source = "hashicorp/random", version = "= $rand_version" }
  }
}
TF
# The committed state: a lock written offline, holding the mirror's hash only.
TF_DATA_DIR=$work/m0 tofu -chdir="$model" init -backend=false -no-color >/dev/null
TF_DATA_DIR=$work/m0 tofu -chdir="$model" providers lock -fs-mirror="$mirror" -platform=linux_amd64 -no-color >/dev/null
n_before=$(grep -c '"h1:' "$model/.terraform.lock.hcl")
if TF_CLI_CONFIG_FILE=$other_rc init_ro "$model" "$work/m1" "$work/m1.log"; then
  fail "model: the other package passed a lock that only holds the mirror's hash"
else
  echo "ok: a mirror-only lock refuses the other package (what an online init would do)"
fi
# What the adopter runs online (infra/README.md), with the second mirror as the registry.
TF_DATA_DIR=$work/m2 tofu -chdir="$model" providers lock -fs-mirror="$work/other-mirror" -platform=linux_amd64 -no-color >/dev/null
n_after=$(grep -c '"h1:' "$model/.terraform.lock.hcl")
[ "$n_after" -eq $((n_before + 1)) ] || fail "model: providers lock did not add the other package's hash to the one there ($n_before -> $n_after)"
TF_CLI_CONFIG_FILE=$other_rc init_ro "$model" "$work/m3" "$work/m3.log" ||
  { cat "$work/m3.log"; fail "model: the merged lock refuses the other package"; }
init_ro "$model" "$work/m4" "$work/m4.log" ||
  { cat "$work/m4.log"; fail "model: the merged lock refuses the offline mirror's package"; }
[ ${#failed[@]} -gt 0 ] || echo "ok: after providers lock, one lock file passes read-only init against both packages"

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED:\n'; printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "lock files: ${roots[*]} pass init -lockfile=readonly offline, and the checks refuse a missing or altered lock"
