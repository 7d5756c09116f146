#!/usr/bin/env bash
# airgap/k8s/status.sh reports on the throwaway cluster.
# Exit 0: every component runs and the API answers /readyz; 1: partly up (run up.sh, which
# repairs by restarting, or down.sh); 2: not up at all.
set -uo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

if [ ! -f "$K8S_STATE/pids" ]; then
  echo "not running (no state in $K8S_STATE)"
  strays=$(stray_pids)
  [ -z "$strays" ] || { echo "but stray processes name that state dir: $strays"; exit 1; }
  exit 2
fi

rc=0
echo "state:      $K8S_STATE"
echo "kubeconfig: $KUBECONFIG_PATH"
echo "env file:   $K8S_STATE/env"
while read -r pid name; do
  if pid_is_ours "$pid" "$name"; then
    printf '  %-24s pid %-7s running\n' "$name" "$pid"
  else
    printf '  %-24s pid %-7s NOT RUNNING (log: %s)\n' "$name" "$pid" "$K8S_STATE/logs/$name.log"; rc=1
  fi
done < "$K8S_STATE/pids"

ready=$(kc get --raw /readyz 2>&1)
echo "apiserver https://127.0.0.1:$APISERVER_PORT /readyz: $ready"
[ "$ready" = ok ] || rc=1
if curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz" >/dev/null 2>&1; then
  echo "kwok http://127.0.0.1:$KWOK_PORT/healthz: ok"
else
  echo "kwok http://127.0.0.1:$KWOK_PORT/healthz: FAILING"; rc=1
fi
if [ "$(cat "$K8S_STATE/real-node" 2>/dev/null)" = 1 ]; then
  node_status || rc=1
  stores_status || rc=1
fi
if [ $rc = 0 ]; then
  kc get nodes -L topology.kubernetes.io/zone,type
fi
exit $rc
