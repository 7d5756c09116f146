#!/usr/bin/env bash
# status.sh tells whether the offline engine and its registry run, and prints what a client
# needs to use them. Exit 0 when both are up, 1 otherwise.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ok=0
if pid_is_ours "$(cat "$ENGINE_PIDFILE" 2>/dev/null)" dagger-engine; then
  echo "engine:   up, pid $(cat "$ENGINE_PIDFILE"), unix://$ENGINE_SOCK, log $ENGINE_LOG"
else echo "engine:   down"; ok=1; fi
if pid_is_ours "$(cat "$REGISTRY_PIDFILE" 2>/dev/null)" txv-oci; then
  echo "registry: up, pid $(cat "$REGISTRY_PIDFILE"), http://$REGISTRY_ADDR, log $REGISTRY_LOG"
  echo "          catalog: $(curl -fsS "http://$REGISTRY_ADDR/v2/_catalog" 2>/dev/null || echo '?')"
else echo "registry: down"; ok=1; fi
echo "mirrors:  $MIRRORED_REGISTRIES -> $REGISTRY_ADDR"
echo "images:   $IMAGE_DEBIAN $IMAGE_DEBIAN_SLIM $IMAGE_GOLANG $IMAGE_GOLANG_MINOR $IMAGE_STATIC"
tools=""; for t in $TOOL_IMAGES; do v=IMAGE_${t^^}; tools+=" ${!v}"; done
echo "tools:   $tools"
echo "go sdk:   $IMAGE_GO_SDK (builtin content, by digest)"
if [ $ok = 0 ]; then
  echo "client environment (. $DAGGER_STATE/client.env):"
  sed 's/^/  /' "$DAGGER_STATE/client.env"
fi
exit $ok
