#!/usr/bin/env bash
# eks-kubeconfig.sh CLUSTER prints a self-contained kubeconfig for an EKS cluster: CA and
# a bearer token inline (valid 15 minutes, longer than a canary deploy's gates), so the
# pipeline's kubectl needs no AWS CLI or exec plugin. Uses the role credentials the
# workflow obtained through OIDC.
# tls-server-name is the endpoint's own name: through the tunnel (eks-api-tunnel.sh) kubectl
# connects to another address, and still verifies the API server's certificate for the
# cluster's name.
set -euo pipefail
cluster=${1:?usage: eks-kubeconfig.sh CLUSTER}
endpoint=$(aws eks describe-cluster --name "$cluster" --query cluster.endpoint --output text)
host=${endpoint#https://}
ca=$(aws eks describe-cluster --name "$cluster" --query cluster.certificateAuthority.data --output text)
token=$(aws eks get-token --cluster-name "$cluster" --query status.token --output text)
cat <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: $cluster
  cluster: {server: "$endpoint", tls-server-name: "$host", certificate-authority-data: "$ca"}
users:
- name: deployer
  user: {token: "$token"}
contexts:
- name: $cluster
  context: {cluster: $cluster, user: deployer}
current-context: $cluster
KUBECONFIG
