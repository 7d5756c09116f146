#!/usr/bin/env bash
# airgap/iac-tools.sh installs the offline Terraform/OpenTofu toolchain used by infra/:
# OpenTofu, tflint + the AWS ruleset, trivy, terraform-docs, and the random/tls/aws providers laid out as a
# filesystem mirror with a CLI config that points at it. Everything comes from the Go module
# proxy (no Terraform registry, no GitHub releases are reachable here).
#
#   eval "$(airgap/iac-tools.sh)"        # install what is missing, then export the env
#
# Logs go to stderr; stdout is only `export ...` lines, so the output is sourceable.
# Idempotent: each tool lands in ~/.cache/<name>-<pinned version> and is reused while the
# pin in airgap/versions.env matches, so a warm run builds nothing.
#
# The AWS provider is compiled with only the service packages infra/ uses
# (TF_PROVIDER_AWS_SERVICES, trimmed by airgap/awsprovider): ~8 CPU-min and 3.6 GB of RAM
# instead of the whole provider's ~1 CPU-hour and 9 GB, which is what lets a fresh machine
# build it inside CI's budget. Its schemas are upstream's for every type it serves.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

command -v go >/dev/null || die "go is required to build the IaC tools"

# build_from_copy NAME VERSION MODULE@VERSION SUBPKG OUTFILE [ldflags]
# For modules whose go.mod has replace directives (go install refuses them): copy the
# module source somewhere writable, build SUBPKG there into $CACHE_ROOT/NAME-VERSION/OUTFILE.
build_from_copy() {
  local name=$1 version=$2 mod=$3 sub=$4 out=$5 ldflags=${6:-}
  local dir=$CACHE_ROOT/$name-$version lock
  # One builder per directory (airgap/prebuild.sh may run this script beside a suite): the
  # second waits on the lock, then finds the first one's build.
  mkdir -p "$CACHE_ROOT"
  exec {lock}>"$dir.lock"
  flock "$lock"
  if [ ! -f "$dir/.complete" ]; then
    log "building $name $version from $mod (cached in $dir)"
    local src
    src=$(mktemp -d "${TMPDIR:-/tmp}/iac-src-$name.XXXXXX")
    module_src "$mod" "$src/src"
    rm -rf "$dir"; mkdir -p "$dir/$(dirname "$out")"
    (cd "$src/src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/$out" "$sub") >&2 \
      || { rm -rf "$dir" "$src"; flock -u "$lock"; return 1; }
    rm -rf "$src"
    touch "$dir/.complete"
  fi
  flock -u "$lock"
  exec {lock}>&-
  cache_used "$dir"
}

# provider_version MODULE@PSEUDO prints the release a provider pseudo-version corresponds to:
# the top entry of its CHANGELOG (the proxy only serves untagged pseudo-versions of these).
provider_version() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  grep -m1 -oE '^## [0-9]+\.[0-9]+\.[0-9]+' "$dir/CHANGELOG.md" | cut -c4-
}

# ---- OpenTofu: go.mod carries replace directives, so build from a writable copy ----------
build_from_copy tofu "$TOFU_VERSION" "$TOFU_MODULE@$TOFU_VERSION" ./cmd/tofu bin/tofu \
  "-X github.com/opentofu/opentofu/version.dev=no"
TOFU_BIN=$CACHE_ROOT/tofu-$TOFU_VERSION/bin

# ---- tflint, its AWS ruleset (the plugin dir is the ruleset's bin dir), trivy ------------
# (trivy: scripts/lib.sh's trivy_bin, shared with airgap/manifest-tools.sh)
TFLINT_BIN=$(ensure_go_tool tflint "$TFLINT_VERSION" github.com/terraform-linters/tflint)
# The ruleset and trivy are built from a copy of their module rather than with
# `go install m@v`: the proxy refuses these modules' version lists (403), which `go install`
# fetches to look for deprecations, so it fails on a machine whose module cache is fresh.
build_from_copy tflint-ruleset-aws "$TFLINT_RULESET_AWS_VERSION" \
  "github.com/terraform-linters/tflint-ruleset-aws@$TFLINT_RULESET_AWS_VERSION" . bin/tflint-ruleset-aws
TFLINT_PLUGIN_DIR=$CACHE_ROOT/tflint-ruleset-aws-$TFLINT_RULESET_AWS_VERSION/bin
TRIVY_BIN=$(trivy_bin) || die "trivy build failed"
TRIVY_BIN=$(dirname "$TRIVY_BIN")
# terraform-docs writes the inputs/outputs tables between the BEGIN_TF_DOCS/END_TF_DOCS
# markers of each README under infra/ (config: infra/.terraform-docs.yml).
# Built from a copy for the same reason as the ruleset: the proxy refuses its version list.
build_from_copy terraform-docs "$TERRAFORM_DOCS_VERSION" \
  "github.com/terraform-docs/terraform-docs@$TERRAFORM_DOCS_VERSION" . bin/terraform-docs
TERRAFORM_DOCS_BIN=$CACHE_ROOT/terraform-docs-$TERRAFORM_DOCS_VERSION/bin

# ---- providers --------------------------------------------------------------------------
# random and tls build in a few minutes; their cache dir is keyed by the pinned
# pseudo-version, and a .version file records the release number the mirror needs.
for p in random tls; do
  case $p in
    random) mod=$TF_PROVIDER_RANDOM_MODULE pseudo=$TF_PROVIDER_RANDOM_PSEUDO ;;
    tls) mod=$TF_PROVIDER_TLS_MODULE pseudo=$TF_PROVIDER_TLS_PSEUDO ;;
  esac
  pdir=$CACHE_ROOT/tf-provider-$p-$pseudo
  if [ ! -f "$pdir/.complete" ]; then
    v=$(provider_version "$mod@$pseudo")
    [ -n "$v" ] || die "cannot read the release version of $mod@$pseudo"
    build_from_copy "tf-provider-$p" "$pseudo" "$mod@$pseudo" . "terraform-provider-${p}_v${v}_x5"
    echo "$v" >"$pdir/.version"
  fi
done

# ---- the AWS provider, compiled with only the services infra/ uses ------------------------
# The whole provider takes ~1 CPU-hour and ~9 GB of RAM to compile; airgap/awsprovider
# rewrites the two generated files that decide which service packages and SDK clients go in,
# to TF_PROVIDER_AWS_SERVICES, and the rest of the source is upstream's at the pinned commit.
AWS_DIR=$(aws_provider_dir)
AWS_BIN=$(aws_provider_bin)
exec {aws_lock}>"$AWS_DIR.lock"
flock "$aws_lock"
if [ ! -x "$AWS_BIN" ]; then
  log "building the AWS provider $TF_PROVIDER_AWS_VERSION with the services $TF_PROVIDER_AWS_SERVICES (cached in $AWS_DIR)"
  src=$(mktemp -d "${TMPDIR:-/tmp}/iac-src-aws.XXXXXX")
  module_src "$TF_PROVIDER_AWS_MODULE@$TF_PROVIDER_AWS_PSEUDO" "$src/src"
  (cd "$REPO_ROOT/airgap/awsprovider" && go build -trimpath -o "$src/awsprovider" .) >&2
  rm -rf "$AWS_DIR.partial"; mkdir -p "$AWS_DIR.partial"
  # Built into a .partial dir and renamed at the end so that an interrupted build is never
  # mistaken for a finished one.
  if ! (cd "$src/src" && GOFLAGS="$GOFLAGS -mod=mod" "$src/awsprovider" trim -src . -services "$TF_PROVIDER_AWS_SERVICES" &&
        GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath \
          -ldflags "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$TF_PROVIDER_AWS_VERSION" \
          -o "$AWS_DIR.partial/terraform-provider-aws_v${TF_PROVIDER_AWS_VERSION}_x5" .) >&2; then
    rm -rf "$src" "$AWS_DIR.partial"; die "AWS provider build failed"
  fi
  echo "$TF_PROVIDER_AWS_SERVICES" >"$AWS_DIR.partial/services"
  rm -rf "$src" "$AWS_DIR"; mv "$AWS_DIR.partial" "$AWS_DIR"
  touch "$AWS_DIR/.complete"
fi
exec {aws_lock}>&-
cache_used "$AWS_DIR"

# ---- filesystem mirror + CLI config ------------------------------------------------------
# One mirror per set of provider binaries, built once and never changed after: a suite may
# be running tofu init on it while airgap/prebuild.sh runs this script again (rebuilding
# one shared mirror in place raced exactly like that). Every provider is listed under both
# registry host names: OpenTofu resolves hashicorp/aws to registry.opentofu.org, Terraform
# to registry.terraform.io. (They must be real directories: OpenTofu ignores a symlinked
# host directory inside a mirror; symlinked binaries are fine.)
providers() { # NAME VERSION BINARY, one provider a line
  local p pseudo pdir v
  for p in random tls; do
    case $p in random) pseudo=$TF_PROVIDER_RANDOM_PSEUDO ;; tls) pseudo=$TF_PROVIDER_TLS_PSEUDO ;; esac
    pdir=$CACHE_ROOT/tf-provider-$p-$pseudo
    v=$(cat "$pdir/.version")
    echo "$p $v $pdir/terraform-provider-${p}_v${v}_x5"
  done
  echo "aws $TF_PROVIDER_AWS_VERSION $AWS_BIN"
}
# What the mirror serves, in one word: a provider rebuilt at the same version gets a new key.
IAC_MIRROR_KEY=$(providers | sha256sum | cut -c1-12)
MIRROR=$CACHE_ROOT/iac-mirror-$IAC_MIRROR_KEY
TFRC=$MIRROR/tofu.tfrc
exec {mirror_lock}>"$MIRROR.lock"
flock "$mirror_lock"
if [ ! -f "$MIRROR/.complete" ]; then
  rm -rf "$MIRROR"
  while read -r name version bin; do
    for host in registry.terraform.io registry.opentofu.org; do
      mkdir -p "$MIRROR/$host/hashicorp/$name/$version/linux_amd64"
      ln -s "$bin" "$MIRROR/$host/hashicorp/$name/$version/linux_amd64/$(basename "$bin")"
    done
  done < <(providers)
  # Only the mirror is listed, so tofu never tries a registry (there is no network for it).
  cat >"$TFRC" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/*/*", "registry.opentofu.org/*/*"]
  }
}
disable_checkpoint = true
EOF
  touch "$MIRROR/.complete"
fi
exec {mirror_lock}>&-
cache_used "$MIRROR"

cat <<EOF
export PATH="$TOFU_BIN:$TFLINT_BIN:$TRIVY_BIN:$TERRAFORM_DOCS_BIN:\$PATH"
export TF_CLI_CONFIG_FILE="$TFRC"
export TFLINT_PLUGIN_DIR="$TFLINT_PLUGIN_DIR"
export TRIVY_CACHE_DIR="$CACHE_ROOT/trivy-cache"
export CHECKPOINT_DISABLE=1
export IAC_AWS_PROVIDER="$AWS_BIN"
export IAC_MIRROR_KEY="$IAC_MIRROR_KEY"
EOF
