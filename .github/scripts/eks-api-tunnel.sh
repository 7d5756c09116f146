#!/usr/bin/env bash
# eks-api-tunnel.sh NAME CLUSTER LOCAL_PORT opens a Session Manager port-forward from
# 127.0.0.1:LOCAL_PORT to the private API endpoint of the EKS cluster CLUSTER, through the
# environment's tunnel host (the instance tagged eks-api-tunnel=NAME, created by
# infra/modules/eks-api-tunnel), and returns once the port accepts connections. The session
# runs in the background for the rest of the job (the runner ends it with the job).
#
# Uses the job's role credentials: the deploy role may start exactly this kind of session
# (port forwarding, no shell) on exactly that host. Needs the AWS CLI and its Session Manager
# plugin (both on GitHub's ubuntu-24.04 runners).
set -euo pipefail
name=${1:?usage: eks-api-tunnel.sh NAME CLUSTER LOCAL_PORT}
cluster=${2:?usage: eks-api-tunnel.sh NAME CLUSTER LOCAL_PORT}
port=${3:?usage: eks-api-tunnel.sh NAME CLUSTER LOCAL_PORT}
command -v session-manager-plugin >/dev/null ||
  { echo "eks-api-tunnel: the AWS CLI's session-manager-plugin is not installed" >&2; exit 1; }

endpoint=$(aws eks describe-cluster --name "$cluster" --query cluster.endpoint --output text)
host=${endpoint#https://}
instance=$(aws ec2 describe-instances \
  --filters "Name=tag:eks-api-tunnel,Values=$name" "Name=instance-state-name,Values=running" \
  --query 'Reservations[].Instances[].InstanceId' --output text | awk '{print $1}')
if [ -z "$instance" ] || [ "$instance" = None ]; then
  echo "eks-api-tunnel: no running instance tagged eks-api-tunnel=$name (infra/modules/eks-api-tunnel)" >&2
  exit 1
fi

log=${RUNNER_TEMP:-/tmp}/eks-api-tunnel.log
nohup aws ssm start-session --target "$instance" \
  --document-name AWS-StartPortForwardingSessionToRemoteHost \
  --parameters "host=$host,portNumber=443,localPortNumber=$port" >"$log" 2>&1 &
session=$!
for _ in $(seq 60); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "eks-api-tunnel: 127.0.0.1:$port -> $host:443 through $instance" >&2
    exit 0
  fi
  if ! kill -0 "$session" 2>/dev/null; then
    cat "$log" >&2; echo "eks-api-tunnel: the session ended before the port opened" >&2; exit 1
  fi
  sleep 1
done
cat "$log" >&2
echo "eks-api-tunnel: 127.0.0.1:$port did not open within 60 s" >&2
exit 1
