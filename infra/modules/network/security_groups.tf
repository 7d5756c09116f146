# Security groups for every tier, with only the flows the platform needs:
#
#   internet --443 (80: redirect only)--> ALB --8080--> pods on nodes --5432--> RDS Proxy --5432--> Aurora
#                                                                   \--6379--> Redis
#   nodes --443--> EKS control plane --443/6443/9443/10250/10251--> nodes
#   pods on nodes --443--> interface VPC endpoints (STS)
#
# Every rule between groups is one entry of local.ingress_rules / local.egress_rules, so the
# module tests can check *all* of them; the only two rules that face the internet are
# separate resources below, each with its reason.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Internet-facing ALB for transaction-validator: HTTPS in, app port out"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_security_group" "eks_cluster" {
  name        = "${var.name}-eks-cluster"
  description = "EKS control plane ENIs: API from nodes and admin networks"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-eks-cluster" })
}

resource "aws_security_group" "eks_nodes" {
  name        = "${var.name}-eks-nodes"
  description = "EKS managed node groups and their pods"
  vpc_id      = aws_vpc.this.id
  tags = merge(var.tags, {
    Name = "${var.name}-eks-nodes"
    # Lets the AWS Load Balancer Controller find the group to open for target health checks.
    "kubernetes.io/cluster/${var.cluster_name}" = "owned"
  })
}

resource "aws_security_group" "rds_proxy" {
  name        = "${var.name}-rds-proxy"
  description = "RDS Proxy: PostgreSQL from pods, to Aurora"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-rds-proxy" })
}

resource "aws_security_group" "aurora" {
  name        = "${var.name}-aurora"
  description = "Aurora PostgreSQL: only from RDS Proxy"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-aurora" })
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "ElastiCache Redis: only from pods"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-redis" })
}

# Interface VPC endpoints (STS): HTTPS from the nodes and their pods only. No egress rule:
# an endpoint answers, it never initiates.
resource "aws_security_group" "vpc_endpoints" {
  name        = "${var.name}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from EKS nodes and pods only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })
}

locals {
  sg = {
    alb         = aws_security_group.alb.id
    eks_cluster = aws_security_group.eks_cluster.id
    eks_nodes   = aws_security_group.eks_nodes.id
    rds_proxy   = aws_security_group.rds_proxy.id
    aurora      = aws_security_group.aurora.id
    redis       = aws_security_group.redis.id
    endpoints   = aws_security_group.vpc_endpoints.id
  }

  # Everything the API server itself dials on the nodes (pods have VPC addresses in the
  # node group, so a pod's port is opened here too). The nodes run with this group only,
  # not the EKS-created cluster security group, which would open every port both ways
  # (see the eks module's launch template): each port the control plane needs is listed.
  # The HPA reads both metric APIs through these: without 10251 and 6443 it reads nothing.
  control_plane_to_node_ports = {
    https             = 443   # admission webhooks served on 443
    prometheusadapter = 6443  # prometheus-adapter: custom.metrics.k8s.io (the HPA's req/s target)
    webhooks          = 9443  # AWS Load Balancer Controller webhooks
    kubelet           = 10250 # logs, exec, port-forward; External Secrets' webhook
    metricsserver     = 10251 # metrics-server EKS add-on: metrics.k8s.io (the HPA's CPU target)
  }

  # Rules between security groups: { group, peer group, protocol, port, description }.
  # Port null means every port (protocol "-1").
  ingress_rules = merge(
    {
      cluster_from_nodes   = { sg = "eks_cluster", peer = "eks_nodes", protocol = "tcp", port = 443, description = "Kubernetes API from nodes" }
      nodes_from_alb       = { sg = "eks_nodes", peer = "alb", protocol = "tcp", port = var.app_port, description = "ALB to transaction-validator pods" }
      nodes_self           = { sg = "eks_nodes", peer = "eks_nodes", protocol = "-1", port = null, description = "Pod-to-pod traffic across nodes (CoreDNS, Prometheus 9090, console to API)" }
      rds_proxy_from_nodes = { sg = "rds_proxy", peer = "eks_nodes", protocol = "tcp", port = 5432, description = "PostgreSQL from pods" }
      aurora_from_proxy    = { sg = "aurora", peer = "rds_proxy", protocol = "tcp", port = 5432, description = "PostgreSQL from RDS Proxy" }
      redis_from_nodes     = { sg = "redis", peer = "eks_nodes", protocol = "tcp", port = 6379, description = "Redis (TLS) from pods" }
      endpoints_from_nodes = { sg = "endpoints", peer = "eks_nodes", protocol = "tcp", port = 443, description = "HTTPS to interface VPC endpoints (STS) from pods" }
    },
    {
      for k, port in local.control_plane_to_node_ports :
      "nodes_from_control_plane_${k}" => { sg = "eks_nodes", peer = "eks_cluster", protocol = "tcp", port = port, description = "From the control plane: ${k}" }
    },
  )

  egress_rules = merge(
    {
      alb_to_pods        = { sg = "alb", peer = "eks_nodes", protocol = "tcp", port = var.app_port, description = "To transaction-validator pods (IP targets)" }
      nodes_self         = { sg = "eks_nodes", peer = "eks_nodes", protocol = "-1", port = null, description = "Pod-to-pod traffic across nodes" }
      nodes_to_cluster   = { sg = "eks_nodes", peer = "eks_cluster", protocol = "tcp", port = 443, description = "Kubernetes API" }
      nodes_to_rds_proxy = { sg = "eks_nodes", peer = "rds_proxy", protocol = "tcp", port = 5432, description = "PostgreSQL through RDS Proxy" }
      nodes_to_redis     = { sg = "eks_nodes", peer = "redis", protocol = "tcp", port = 6379, description = "Redis (TLS)" }
      # Also inside nodes_https (0.0.0.0/0); named here so STS keeps working if that rule narrows.
      nodes_to_endpoints = { sg = "eks_nodes", peer = "endpoints", protocol = "tcp", port = 443, description = "HTTPS to interface VPC endpoints (STS)" }
      proxy_to_aurora    = { sg = "rds_proxy", peer = "aurora", protocol = "tcp", port = 5432, description = "PostgreSQL to Aurora" }
    },
    {
      for k, port in local.control_plane_to_node_ports :
      "cluster_to_nodes_${k}" => { sg = "eks_cluster", peer = "eks_nodes", protocol = "tcp", port = port, description = "Control plane to nodes: ${k}" }
    },
  )
}

resource "aws_vpc_security_group_ingress_rule" "internal" {
  for_each = local.ingress_rules

  security_group_id            = local.sg[each.value.sg]
  referenced_security_group_id = local.sg[each.value.peer]
  description                  = each.value.description
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "internal" {
  for_each = local.egress_rules

  security_group_id            = local.sg[each.value.sg]
  referenced_security_group_id = local.sg[each.value.peer]
  description                  = each.value.description
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
}

# Admin networks are private CIDRs (validated: never 0.0.0.0/0).
resource "aws_vpc_security_group_ingress_rule" "cluster_from_admin" {
  for_each = toset(var.cluster_admin_cidrs)

  security_group_id = aws_security_group.eks_cluster.id
  description       = "Kubernetes API from the admin network (VPN / CI runners)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "nodes_dns" {
  for_each = toset(["udp", "tcp"])

  security_group_id = aws_security_group.eks_nodes.id
  description       = "DNS to the VPC resolver (${each.value})"
  ip_protocol       = each.value
  from_port         = 53
  to_port           = 53
  cidr_ipv4         = "${cidrhost(var.vpc_cidr, 2)}/32"
}

################################################################################
# The rules that face the internet
################################################################################

# The public ALB must accept HTTPS from any client; the WAF web ACL filters what reaches it.
# (trivy 0.68 does not evaluate aws_vpc_security_group_ingress_rule, so the module tests are
# what holds this to "443 on the ALB only".)
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet (WAF web ACL in front)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The Ingresses declare listen-ports 80 and 443 with ssl-redirect: the HTTP listener only
# answers 301 to https:// (no route to a target). Opening 80 keeps plain-http clients from
# hanging until timeout; dropping the listener would instead need every Ingress changed.
# The ALB's egress stays the app port only, so nothing is forwarded from port 80.
resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the internet, answered only with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

#trivy:ignore:AVD-AWS-0104 Nodes call AWS APIs (ECR, STS, Secrets Manager, CloudWatch) whose addresses are not fixed; HTTPS only, out through the NAT gateways.
resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  security_group_id = aws_security_group.eks_nodes.id
  description       = "HTTPS to AWS APIs and ECR through NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
