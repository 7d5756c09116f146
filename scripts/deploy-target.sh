# shellcheck shell=bash
# shellcheck disable=SC2034 # a library: the suites that source it use what it sets
# Sourced by the suites that run `dagger call deploy --env local` (50, and the staged 51):
# the cluster a deployer is given, made the same way for each.

# deploy_target WORK PORT_BASE starts a throwaway kwok cluster of the caller's own (state in
# WORK/k8s, API server on PORT_BASE; suite 31 and developers use the default cluster and the
# same namespace), with the CRDs the overlays need, and sets what the deploy calls take:
#   KUBECONFIG (exported) and k, kubectl on it; ns, the namespace deploy uses;
#   WORK/kubeconfig, what a deployer receives: one file, certificates inline, the API server
#     by the name its certificate carries; the CLI tunnels the pipeline to it (--kube-api);
#   api, that tunnel's address; repo, the validator's repository in the local registry.
# cluster_started=1 is set before the cluster starts, so that the caller's cleanup stops a
# cluster that failed half-way (K8S_STATE=WORK/k8s airgap/k8s/down.sh).
deploy_target() {
  local work=$1 crd
  eval "$(airgap/manifest-tools.sh)"
  export K8S_STATE=$work/k8s K8S_PORT_BASE=$2
  cluster_started=1
  KUBECONFIG=$(airgap/k8s/up.sh)
  export KUBECONFIG
  # shellcheck source=/dev/null
  . "$K8S_STATE/env"
  k() { "$KUBECTL" "$@"; }
  ns=transaction-validator
  for crd in "$CRD_DIR"/*.yaml; do k apply --server-side --force-conflicts -f "$crd" >/dev/null; done
  k wait crd --all --for=condition=Established --timeout=60s >/dev/null
  k config view --raw --flatten --minify >"$work/kubeconfig"
  api="tcp://127.0.0.1:${K8S_PORT_BASE}"
  repo="$REGISTRY_ADDR/txv/transaction-validator"
}
