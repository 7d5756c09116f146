#!/usr/bin/env bash
# airgap/prebuild.sh builds the whole offline toolchain that is not built yet, in the order
# the test suites need it, and does nothing when ~/.cache already has it all:
#
#   nice -n 19 airgap/prebuild.sh      # what scripts/test.sh starts in the background
#
# Why in the background: on a fresh machine the toolchain is most of the cold run's work
# (the AWS provider, Kubernetes, the Dagger engine and its images), and the suites spend long
# stretches with the CPU idle: waiting for rollouts on the throwaway cluster, for the engine
# to start, for apt and debootstrap downloads. At nice 19 the build takes only what the
# suites leave: a suite that needs a part still being built waits for it on the builder's
# lock (each builder takes one) and then finds it done, instead of building it again.
#
# Needs root for the engine's images (debootstrap, chroot); without root it builds the
# rest. Output: each builder's log lines on stderr; exit status non-zero if a part failed
# (the suite that needs it then fails on it too, with its own message).
set -uo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

status=0
part() { # NAME CMD...: one part, timed, its failure noted but not fatal to the others
  local name=$1 t=$SECONDS; shift
  if "$@" >/dev/null; then
    log "prebuild: $name ready ($((SECONDS - t)) s)"
  else
    log "prebuild: $name FAILED (exit $?)"; status=1
  fi
}

# In the order of the suites that use them (scripts/suites/): 15 govulncheck and the Go
# vulnerability database, 21 the IaC tools and the AWS provider, 30 the manifest tools and
# schemas, 31 and 40 the control plane and kwok, then cosign and gitleaks, 41 the real node, 45 and 50 the Dagger
# engine, its images and the tool images (which reuse all of the above).
part "govulncheck and the Go vulnerability database" "$REPO_ROOT/airgap/vuln-tools.sh"
part "IaC tools and providers" "$REPO_ROOT/airgap/iac-tools.sh"
part "manifest tools and schemas" "$REPO_ROOT/airgap/manifest-tools.sh"
part "Kubernetes control plane and kwok" "$REPO_ROOT/airgap/k8s/build.sh"
# Before the Dagger part, whose tool images carry it (signing and verification, ci/sign.go).
part "cosign" "$REPO_ROOT/airgap/sign-tools.sh"
# The second secret scanner (ci/secrets.go), also carried by the tool images; ~1 CPU-min.
part "gitleaks" gitleaks_bin
if [ "$(id -u)" -eq 0 ]; then
  # Suite 41: kubelet + kube-proxy (same release as the control plane), CoreDNS, kube-router
  # and the node's images (from Debian packages, hence root).
  part "Kubernetes real node" "$REPO_ROOT/airgap/k8s/build.sh" --node
  # Not the External Secrets Operator (airgap/k8s/build.sh --eso): nothing runs it yet, and
  # its build (about 75 min of wall time at nice 19 on a loaded 2-core machine) would
  # spend the cold path's margin on a binary no suite uses.
  # shellcheck source=dagger/common.sh
  . "$REPO_ROOT/airgap/dagger/common.sh"
  # shellcheck disable=SC2086 # a space-separated package list
  part "Debian packages of the engine" ensure_apt $DAGGER_APT_PACKAGES
  part "Dagger engine, images and tool images" "$REPO_ROOT/airgap/dagger/build.sh"
else
  log "prebuild: not root, so not the Dagger images (debootstrap needs root); suite 45 builds them"
fi
exit $status
