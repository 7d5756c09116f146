#!/usr/bin/env bash
# Suite 30: the Kubernetes manifests in kustomize/, checked offline.
#   1. every overlay builds with the pinned kustomize, with example Terraform outputs
#      (kustomize/testdata/tofu-output, rendered by kustomize/tfoutputs as deploy does);
#   2. kubeconform -strict against schemas generated from the Kubernetes swagger and the
#      CRDs in use (and a deliberately misspelt copy must be rejected, proving the schemas
#      are strict and really loaded);
#   3. the Go tests: kustomize/ (per-environment rules + mutation tests) and the schema
#      converter airgap/k8sschema;
#   4. trivy config on the rendered manifests, no findings at any severity except the
#      suppressions in kustomize/.trivyignore.yaml, each with its reason.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/scripts/lib.sh"
cd "$REPO_ROOT"

t0=$(date +%s)
# LuaJIT (the Lua Fluent Bit embeds) runs the log PAN-redaction filter in the Go tests.
ensure_apt luajit
eval "$("$REPO_ROOT/airgap/manifest-tools.sh")"
log "tools ready in $(( $(date +%s) - t0 ))s"

out=$(mktemp -d "${TMPDIR:-/tmp}/manifests.XXXXXX")
trap 'rm -rf "$out"' EXIT

overlays=()
for d in kustomize/overlays/*/; do overlays+=("$(basename "$d")"); done
# The committed overlays hold no Terraform values: a plain build must stop at the missing
# terraform-outputs.yaml rather than render made-up ARNs.
if "$KUSTOMIZE" build "kustomize/overlays/${overlays[0]}" > /dev/null 2> "$out/bare.log"; then
  die "overlay ${overlays[0]} builds without terraform-outputs.yaml: it must not carry Terraform values"
fi
grep -q "terraform-outputs.yaml" "$out/bare.log" || { cat "$out/bare.log"; die "a bare build failed, but not on terraform-outputs.yaml"; }
example_overlays "$out/kustomize" || die "rendering the example Terraform outputs failed"
[ ${#overlays[@]} -gt 0 ] || die "no overlays under kustomize/overlays"

# Flat files named after the overlay: trivy's directory walk silently skips any directory
# called "dev" (it treats it like /dev), so out/dev/manifests.yaml would never be scanned.
mkdir -p "$out/rendered"
for env in "${overlays[@]}"; do
  "$KUSTOMIZE" build "$out/kustomize/overlays/$env" > "$out/rendered/$env.yaml" || die "kustomize build $env failed"
  log "built $env: $(grep -c '^kind:' "$out/rendered/$env.yaml") objects"
done

kubeconform() {
  "$KUBECONFORM" -strict -summary -output text \
    -kubernetes-version "${KUBERNETES_VERSION#v}" \
    -schema-location "$K8S_SCHEMAS" \
    -schema-location "$K8S_SCHEMAS/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
    "$@"
}
for env in "${overlays[@]}"; do
  printf '%s: ' "$env"
  kubeconform "$out/rendered/$env.yaml" || die "kubeconform rejected $env"
done
# The deploy role's RBAC (applied by the cluster admin, not part of an overlay); its rules
# against what deploy does: kustomize/deployer_rbac_test.go.
"$KUSTOMIZE" build kustomize/deployer-rbac > "$out/deployer-rbac.yaml" || die "kustomize build deployer-rbac failed"
printf 'deployer-rbac: '
kubeconform "$out/deployer-rbac.yaml" || die "kubeconform rejected kustomize/deployer-rbac"
# A schema directory that silently matched nothing, or non-strict schemas, would let the
# step above pass on anything; a misspelt field in a Deployment and an ExternalSecret must fail.
sed -e 's/^  minReadySeconds:/  minReadySecond:/' -e 's/^  refreshInterval:/  refreshIntervall:/' \
  "$out/rendered/${overlays[0]}.yaml" > "$out/misspelt.yaml"
if kubeconform "$out/misspelt.yaml" > "$out/misspelt.log" 2>&1; then
  cat "$out/misspelt.log"; die "kubeconform accepted misspelt fields: the schemas are not strict"
fi
if ! grep -q "minReadySecond" "$out/misspelt.log" || ! grep -q "refreshIntervall" "$out/misspelt.log"; then
  cat "$out/misspelt.log"; die "kubeconform did not name both misspelt fields"
fi
log "kubeconform rejects misspelt fields, as it must"

(cd airgap/k8sschema && go test -count=1 ./...) || die "schema converter tests failed"
# TXV_REQUIRE_SERVERS=1: a test that needs an engine (LuaJIT) fails instead of skipping.
(cd kustomize && TXV_REQUIRE_SERVERS=1 go test -count=1 ./...) || die "kustomize Go tests failed"
# The OTel collector config, loaded and validated by the collector's own code (own module:
# its dependency graph; ~3 CPU-min cold, cached afterwards).
(cd kustomize/otelcol && nice -n "${BUILD_NICE:-10}" go test -count=1 ./...) || die "collector config validation failed"

# trivy scans the rendered output (what is applied), not the kustomize sources: patches and
# components only exist as their result. Built-in checks only (--skip-check-update: no
# network), every severity, and the ignore file holds each suppression with its reason.
trivy_args=(config --quiet --skip-check-update --cache-dir "$TRIVY_CACHE_DIR"
  --ignorefile kustomize/.trivyignore.yaml --severity "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL")
"$TRIVY" "${trivy_args[@]}" --exit-code 1 "$out/rendered" || die "trivy config found problems"
# "No findings" must mean "scanned and clean": every overlay has to appear as a target.
"$TRIVY" "${trivy_args[@]}" --format json --output "$out/trivy.json" "$out/rendered"
for env in "${overlays[@]}"; do
  grep -q "\"Target\": \"$env.yaml\"" "$out/trivy.json" || die "trivy did not scan the $env overlay"
done
# And the checks are live: a writable root filesystem must be reported.
mkdir -p "$out/broken"
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "$out/rendered/${overlays[0]}.yaml" > "$out/broken/broken.yaml"
if "$TRIVY" "${trivy_args[@]}" --exit-code 1 "$out/broken" > "$out/broken.log" 2>&1; then
  die "trivy config did not flag a writable root filesystem: its checks are not running"
fi
grep -q "KSV-0014" "$out/broken.log" || { cat "$out/broken.log"; die "trivy failed, but not on KSV-0014"; }
log "trivy config: no unsuppressed findings in ${overlays[*]}"

log "manifests suite passed in $(( $(date +%s) - t0 ))s"
