#!/usr/bin/env bash
# airgap/k8s/node-ns.sh NODE_STATE NODE_IP/PREFIX: the first process of the real node's
# network and mount namespaces. node.sh starts it as `unshare --net --mount --propagation
# private -- node-ns.sh ...`; it sets the namespaces up and then stays as their holder
# (`sleep`, named after the state dir so that down.sh can find it), and every other node
# process joins them with nsenter.
#
# Why namespaces of its own: kube-proxy and kube-router rewrite the firewall, containerd
# mounts overlays and network namespaces, kubelet writes /var/log/pods and the CNI plugins
# /var/lib/cni. Inside these namespaces all of that lands on a network stack and on tmpfs
# mounts that no host process sees and that vanish with the last process in them, so
# down.sh leaves the host's firewall, links, mounts and directories as they were.
set -euo pipefail
state=$1 addr=$2

# Runtime directories the node's programs hard-code (containerd's /run/containerd and
# /run/netns, runc's state, kubelet's /var/log/{pods,containers}, the CNI cache in
# /var/lib/cni, the iptables lock /run/xtables.lock): private tmpfs, not the host's.
mount -t tmpfs -o mode=0755,size=64m txv-node-run /run
mount -t tmpfs -o mode=0755,size=256m txv-node-varlog /var/log
mount -t tmpfs -o mode=0755,size=64m txv-node-varlib /var/lib

ip link set lo up
# The pods' bridge, made here rather than by the CNI plugin on the first pod so that the
# node has its address (kubelet --node-ip) before any pod exists.
ip link add txv-cni0 type bridge
ip addr add "$addr" dev txv-cni0
ip link set txv-cni0 up
# Per network namespace: forwarding between pods and the node, and bridged pod-to-pod
# packets through iptables, so that kube-proxy's NAT and kube-router's policy chains see
# traffic between two pods on this bridge too.
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1

echo ready > "$state/ns-ready"
# argv[0] is the state path: how down.sh's stray search and the liveness checks (which look
# for the state dir on the command line) recognise this holder.
exec -a "$state/ns-holder" sleep infinity
