#!/usr/bin/env bash
# airgap/iac-tools.sh installs the offline Terraform/OpenTofu toolchain used by infra/:
# OpenTofu, tflint + the AWS ruleset, trivy, and the random/tls/aws providers laid out as a
# filesystem mirror with a CLI config that points at it. Everything comes from the Go module
# proxy (no Terraform registry, no GitHub releases are reachable here).
#
#   eval "$(airgap/iac-tools.sh)"        # install what is missing, then export the env
#   BUILD_AWS_PROVIDER=1 airgap/iac-tools.sh   # also build the AWS provider (~1 CPU-hour)
#
# Logs go to stderr; stdout is only `export ...` lines, so the output is sourceable.
# Idempotent: each tool lands in ~/.cache/<name>-<pinned version> and is reused while the
# pin in airgap/versions.env matches, so a warm run builds nothing.
#
# The AWS provider is deliberately NOT built by default: its cold build takes ~1 CPU-hour
# and ~9 GB of RAM, which does not fit in CI's 90-minute budget next to the other suites.
# When ~/.cache/tf-provider-aws-<version>/terraform-provider-aws_v<version>_x5 exists (built
# once on the machine, or restored from a CI cache) it is linked into the mirror; when it
# does not, IAC_AWS_PROVIDER is exported empty and suite 21 skips loudly.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

command -v go >/dev/null || die "go is required to build the IaC tools"

# On a shared machine another script may be building the same pinned tool into the same
# cache dir right now (same ~/.cache/<name>-<version> convention). Starting our own build
# would `rm -rf` theirs, so wait for it to finish instead (up to 60 minutes).
wait_foreign_build() {
  local dir=$1 waited=0
  while [ -d "$dir" ] && [ ! -f "$dir/.complete" ] && pgrep -f -- "$dir/" >/dev/null; do
    [ $waited = 0 ] && log "another process is building into $dir; waiting for it"
    sleep 15; waited=$((waited + 15))
    [ $waited -lt 3600 ] || die "gave up waiting for the build into $dir"
  done
}

# build_from_copy NAME VERSION MODULE@VERSION SUBPKG OUTFILE [ldflags]
# For modules whose go.mod has replace directives (go install refuses them): copy the
# module source somewhere writable, build SUBPKG there into $CACHE_ROOT/NAME-VERSION/OUTFILE.
build_from_copy() {
  local name=$1 version=$2 mod=$3 sub=$4 out=$5 ldflags=${6:-}
  local dir=$CACHE_ROOT/$name-$version
  wait_foreign_build "$dir"
  if [ ! -f "$dir/.complete" ]; then
    log "building $name $version from $mod (cached in $dir)"
    local src
    src=$(mktemp -d "${TMPDIR:-/tmp}/iac-src-$name.XXXXXX")
    module_src "$mod" "$src/src"
    rm -rf "$dir"; mkdir -p "$dir/$(dirname "$out")"
    (cd "$src/src" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dir/$out" "$sub") >&2 \
      || { rm -rf "$dir" "$src"; return 1; }
    rm -rf "$src"
    touch "$dir/.complete"
  fi
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
wait_foreign_build "$CACHE_ROOT/tflint-$TFLINT_VERSION"
TFLINT_BIN=$(ensure_go_tool tflint "$TFLINT_VERSION" github.com/terraform-linters/tflint)
# The ruleset and trivy are built from a copy of their module rather than with
# `go install m@v`: the proxy refuses these modules' version lists (403), which `go install`
# fetches to look for deprecations, so it fails on a machine whose module cache is fresh.
build_from_copy tflint-ruleset-aws "$TFLINT_RULESET_AWS_VERSION" \
  "github.com/terraform-linters/tflint-ruleset-aws@$TFLINT_RULESET_AWS_VERSION" . bin/tflint-ruleset-aws
TFLINT_PLUGIN_DIR=$CACHE_ROOT/tflint-ruleset-aws-$TFLINT_RULESET_AWS_VERSION/bin
TRIVY_BIN=$(trivy_bin) || die "trivy build failed"
TRIVY_BIN=$(dirname "$TRIVY_BIN")

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

AWS_DIR=$CACHE_ROOT/tf-provider-aws-$TF_PROVIDER_AWS_VERSION
AWS_BIN=$AWS_DIR/terraform-provider-aws_v${TF_PROVIDER_AWS_VERSION}_x5
if [ "${BUILD_AWS_PROVIDER:-0}" = 1 ]; then wait_foreign_build "$AWS_DIR.partial"; fi
if [ ! -x "$AWS_BIN" ] && [ "${BUILD_AWS_PROVIDER:-0}" = 1 ]; then
  # Built into a .partial dir and renamed at the end so that an interrupted build is never
  # mistaken for a finished one (the same layout the lead's one-off build uses).
  log "building the AWS provider $TF_PROVIDER_AWS_VERSION: ~1 CPU-hour, ~9 GB RAM"
  src=$(mktemp -d "${TMPDIR:-/tmp}/iac-src-aws.XXXXXX")
  module_src "$TF_PROVIDER_AWS_MODULE@$TF_PROVIDER_AWS_PSEUDO" "$src/src"
  rm -rf "$AWS_DIR.partial"; mkdir -p "$AWS_DIR.partial"
  (cd "$src/src" && nice -n 10 go build -trimpath \
    -ldflags "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=$TF_PROVIDER_AWS_VERSION" \
    -o "$AWS_DIR.partial/terraform-provider-aws_v${TF_PROVIDER_AWS_VERSION}_x5" .) >&2
  rm -rf "$src" "$AWS_DIR"; mv "$AWS_DIR.partial" "$AWS_DIR"
fi

# ---- filesystem mirror + CLI config ------------------------------------------------------
# Rebuilt on every run (symlinks only, instant) so it always matches the pins. Every provider
# is listed under both registry host names: OpenTofu resolves hashicorp/aws to
# registry.opentofu.org, Terraform to registry.terraform.io. (They must be real directories:
# OpenTofu ignores a symlinked host directory inside a mirror; symlinked binaries are fine.)
MIRROR=$CACHE_ROOT/iac-mirror
rm -rf "$MIRROR"
mkdir -p "$MIRROR"
link_provider() { # NAME VERSION BINARY
  local host
  for host in registry.terraform.io registry.opentofu.org; do
    mkdir -p "$MIRROR/$host/hashicorp/$1/$2/linux_amd64"
    ln -s "$3" "$MIRROR/$host/hashicorp/$1/$2/linux_amd64/$(basename "$3")"
  done
}
for p in random tls; do
  case $p in random) pseudo=$TF_PROVIDER_RANDOM_PSEUDO ;; tls) pseudo=$TF_PROVIDER_TLS_PSEUDO ;; esac
  pdir=$CACHE_ROOT/tf-provider-$p-$pseudo
  v=$(cat "$pdir/.version")
  link_provider "$p" "$v" "$pdir/terraform-provider-${p}_v${v}_x5"
done
IAC_AWS_PROVIDER=""
if [ -x "$AWS_BIN" ]; then
  link_provider aws "$TF_PROVIDER_AWS_VERSION" "$AWS_BIN"
  IAC_AWS_PROVIDER=$AWS_BIN
else
  log "AWS provider not cached at $AWS_BIN: static checks work, validate/test will skip" \
    "(build it once with BUILD_AWS_PROVIDER=1 $0)"
fi

TFRC=$CACHE_ROOT/iac-mirror.tfrc
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

cat <<EOF
export PATH="$TOFU_BIN:$TFLINT_BIN:$TRIVY_BIN:\$PATH"
export TF_CLI_CONFIG_FILE="$TFRC"
export TFLINT_PLUGIN_DIR="$TFLINT_PLUGIN_DIR"
export TRIVY_CACHE_DIR="$CACHE_ROOT/trivy-cache"
export CHECKPOINT_DISABLE=1
export IAC_AWS_PROVIDER="$IAC_AWS_PROVIDER"
EOF
