#!/usr/bin/env bash
# airgap/manifest-tools.sh installs what checks the Kubernetes manifests offline: kustomize,
# kubeconform, trivy, and kubeconform's JSON schemas generated from module zips (the
# Kubernetes swagger and the CRDs the manifests use) by airgap/k8sschema.
#
#   eval "$(airgap/manifest-tools.sh)"   # sets KUSTOMIZE KUBECONFORM TRIVY K8S_SCHEMAS CRD_DIR
#
# Logs go to stderr; stdout is only `export ...` lines. Everything lands in ~/.cache keyed
# by the pins in airgap/versions.env (schemas also by the converter's source hash), so a
# warm run builds nothing and takes about a second.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../scripts/lib.sh
. "$REPO_ROOT/scripts/lib.sh"

command -v go >/dev/null || die "go is required to build the manifest tools"
renice -n "${BUILD_NICE:-10}" -p $$ >/dev/null 2>&1 || true

mod_dir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then die "go mod download $1 failed"; fi
  echo "$dir"
}

KUSTOMIZE_BIN=$(ensure_go_tool kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5)
KUBECONFORM_BIN=$(ensure_go_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform)

# ---- trivy (scripts/lib.sh's trivy_bin, shared with airgap/iac-tools.sh) -----------------
TRIVY_BIN=$(trivy_bin) || die "trivy build failed"
TRIVY_BIN=$(dirname "$TRIVY_BIN")

# ---- kubeconform schemas ----------------------------------------------------------------
# Keyed by every input: Kubernetes and operator versions, the converter's own source and
# this script (which lists the CRDs).
conv_hash=$(cat "$REPO_ROOT"/airgap/k8sschema/go.mod "$REPO_ROOT"/airgap/k8sschema/go.sum \
  "$REPO_ROOT"/airgap/k8sschema/*.go "$REPO_ROOT/airgap/manifest-tools.sh" | sha256sum | cut -c1-12)
SCHEMA_DIR=$CACHE_ROOT/k8s-schemas-$KUBERNETES_VERSION-eso$EXTERNAL_SECRETS_VERSION-po$PROMETHEUS_OPERATOR_VERSION-$conv_hash
exec {schema_lock}>"$SCHEMA_DIR.lock"   # one generator at a time (see airgap/prebuild.sh)
flock "$schema_lock"
if [ ! -f "$SCHEMA_DIR/.complete" ]; then
  log "generating kubeconform schemas into $SCHEMA_DIR"
  rm -rf "$SCHEMA_DIR"; mkdir -p "$SCHEMA_DIR/bin" "$SCHEMA_DIR/crd-yaml"
  (cd "$REPO_ROOT/airgap/k8sschema" && go build -trimpath -o "$SCHEMA_DIR/bin/k8sschema" .) >&2
  k8s=$(mod_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")
  eso=$(mod_dir "github.com/external-secrets/external-secrets@$EXTERNAL_SECRETS_VERSION")/config/crds/bases
  po=$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")/example/prometheus-operator-crd
  # The CRD YAMLs are kept next to the schemas: the apply suite installs the same ones
  # into the throwaway API server.
  for f in "$eso/external-secrets.io_externalsecrets.yaml" "$eso/external-secrets.io_secretstores.yaml" \
           "$po/monitoring.coreos.com_servicemonitors.yaml" "$po/monitoring.coreos.com_prometheusrules.yaml"; do
    cp "$f" "$SCHEMA_DIR/crd-yaml/"
  done
  args=()
  for f in "$SCHEMA_DIR"/crd-yaml/*.yaml; do args+=(-crd "$f"); done
  "$SCHEMA_DIR/bin/k8sschema" -swagger "$k8s/api/openapi-spec/swagger.json" \
    -k8s-version "$KUBERNETES_VERSION" -out "$SCHEMA_DIR" "${args[@]}" >&2
  chmod -R u+w "$SCHEMA_DIR/crd-yaml"
  touch "$SCHEMA_DIR/.complete"
fi
exec {schema_lock}>&-
cache_used "$SCHEMA_DIR"

for b in "$KUSTOMIZE_BIN/kustomize" "$KUBECONFORM_BIN/kubeconform" "$TRIVY_BIN/trivy"; do
  [ -x "$b" ] || die "$b missing after install"
done
cat <<EOF
export KUSTOMIZE=$KUSTOMIZE_BIN/kustomize
export KUBECONFORM=$KUBECONFORM_BIN/kubeconform
export TRIVY=$TRIVY_BIN/trivy
export TRIVY_CACHE_DIR=$CACHE_ROOT/trivy-cache
export K8S_SCHEMAS=$SCHEMA_DIR
export CRD_DIR=$SCHEMA_DIR/crd-yaml
EOF
