# shellcheck shell=bash
# shellcheck disable=SC2034 # a library: the scripts that source it use what it sets
# The cluster a deployer is given, made one way for everyone who deploys to the local
# environment: airgap/deploy-local (a newcomer's one command) and the suites that run
# `dagger call deploy --env local` (50, and the staged 51). Needs the engine's environment
# (airgap/dagger/common.sh: REGISTRY_ADDR) and the working directory at the repository root.

# deploy_target [STATE_DIR [PORT_BASE]] starts the throwaway kwok cluster kept in STATE_DIR
# (default: airgap/up's, $AIRGAP_STATE/k8s) on PORT_BASE (default: the one it runs on, or
# airgap/k8s/common.sh's), or finds it running, and sets what the deploy calls take:
#   KUBECONFIG (exported) and k, kubectl on it; ns, the namespace deploy uses;
#   deployer_kubeconfig, what a deployer receives: one file, certificates inline, the API
#     server by the name its certificate carries; the CLI tunnels the pipeline to it (api);
#   api, that tunnel's address; repo, the validator's repository in the local registry.
# cluster_started=1 is set before the cluster starts, so that a caller's cleanup stops a
# cluster that failed half-way. The CRDs are not installed here: deploy_crds does that, so
# that suite 50 can show first that deploy refuses a cluster without them.
deploy_target() {
  export K8S_STATE=${1:-${K8S_STATE:-${AIRGAP_STATE:-$HOME/.local/state/txv-airgap}/k8s}}
  [ -z "${2:-}" ] || export K8S_PORT_BASE=$2
  cluster_started=1
  KUBECONFIG=$(airgap/k8s/up.sh)
  export KUBECONFIG
  # shellcheck source=/dev/null
  . "$K8S_STATE/env"
  k() { "$KUBECTL" "$@"; }
  ns=transaction-validator
  deployer_kubeconfig=$K8S_STATE/deployer.kubeconfig
  (umask 077 && k config view --raw --flatten --minify >"$deployer_kubeconfig")
  api="tcp://127.0.0.1:${K8S_PORT_BASE}"
  repo="$REGISTRY_ADDR/txv/transaction-validator"
}

# deploy_crds installs the CRDs the overlays use (ExternalSecret, ServiceMonitor, ...; the
# schemas validate checks them against) and waits until the API server serves them.
deploy_crds() {
  local crd
  eval "$(airgap/manifest-tools.sh)"
  for crd in "$CRD_DIR"/*.yaml; do k apply --server-side --force-conflicts -f "$crd" >/dev/null; done
  k wait crd --all --for=condition=Established --timeout=60s >/dev/null
}
