data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # The OIDC issuer without its scheme is how IAM names the provider in trust conditions.
  oidc_issuer_host = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

################################################################################
# Control plane
################################################################################

# Created before the cluster so that EKS does not create it itself with infinite retention
# and no encryption.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-eks-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  # Access is managed with EKS access entries (below), not the aws-auth ConfigMap, and the
  # identity running Terraform gets no implicit, invisible admin rights.
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    security_group_ids      = [var.cluster_security_group_id]
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.endpoint_public_access ? var.endpoint_public_access_cidrs : null
  }

  # Envelope encryption of Kubernetes Secrets with our own KMS key.
  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = var.secrets_kms_key_arn
    }
  }

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  deletion_protection       = var.deletion_protection

  # STANDARD (the default): the cluster never runs a version upstream no longer patches, and
  # never pays the extended-support fee; the price is that AWS upgrades the control plane
  # itself at the end of standard support, so upgrade before that date (the check below).
  upgrade_policy {
    support_type = var.support_type
  }

  lifecycle {
    precondition {
      condition     = contains(keys(var.standard_support_end_dates), var.kubernetes_version)
      error_message = "Kubernetes ${var.kubernetes_version} is not in standard_support_end_dates: add its end of standard support from AWS's EKS version calendar."
    }
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.cluster,
    aws_iam_role_policy_attachment.cluster,
  ]
}

# A warning on every plan once the version has left standard support: under STANDARD, AWS
# is about to upgrade (or has upgraded) the control plane on its own schedule; under
# EXTENDED, the cluster costs six times as much. Either way: upgrade.
check "kubernetes_version_in_standard_support" {
  assert {
    condition     = timecmp(plantimestamp(), "${lookup(var.standard_support_end_dates, var.kubernetes_version, "9999-12-31")}T00:00:00Z") < 0
    error_message = "EKS standard support of Kubernetes ${var.kubernetes_version} ended on ${lookup(var.standard_support_end_dates, var.kubernetes_version, "(unknown)")}: upgrade the cluster one minor version at a time (kubernetes_version)."
  }
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.value].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

################################################################################
# IRSA: the cluster's OIDC issuer as an IAM identity provider
################################################################################

# No thumbprint_list: IAM validates EKS OIDC issuers against its own trusted CAs, and the
# tls provider's data source would need network access at plan time.
resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

################################################################################
# Managed node groups
################################################################################

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-eks-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

# AWS-managed policies are the documented minimum for nodes. The VPC CNI's policy
# (AmazonEKS_CNI_Policy: create/attach ENIs, assign IPs) is *not* here: every pod could use
# it through the node's credentials. aws-node gets it through its own IRSA role instead (the
# pod identity webhook runs in EKS's control plane, so it works before any node exists),
# and the vpc-cni add-on is installed before the node groups (below).
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore", # shell access through SSM instead of SSH keys
  ])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_launch_template" "node" {
  for_each = var.node_groups

  name_prefix            = "${var.name}-${each.key}-"
  description            = "EKS managed node group ${each.key}: IMDSv2, encrypted root volume"
  update_default_version = true
  # Only the network module's node group: with security groups in the launch template EKS
  # does not add its own cluster security group, which opens every port between the
  # control plane and the nodes. The node group instead allows exactly the ports the
  # control plane dials (webhooks, kubelet, metrics-server 10251, prometheus-adapter 6443:
  # see ../network/security_groups.tf).
  vpc_security_group_ids = [var.node_security_group_id]

  # IMDSv2 only, with a hop limit of 1 so that pods cannot borrow the node's role: they get
  # their own through IRSA.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = each.value.disk_size_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-${each.key}" })
  }

  tags = var.tags
}

# One managed node group per group and AZ: an Auto Scaling group spanning three AZs
# rebalances by itself and the cluster autoscaler cannot choose the zone of a new node, so
# pods held Pending by the zone spread (`minDomains: 3`) or by the per-node anti-affinity
# could wait for a node in the wrong zone forever. With one group per AZ the autoscaler
# scales exactly the zone that lacks a node (run it with --balance-similar-node-groups).
locals {
  node_groups_per_az = merge([
    for group, cfg in var.node_groups : {
      for az, subnet in var.node_subnet_ids : "${group}-${az}" => merge(cfg, { group = group, az = az, subnet_id = subnet })
    }
  ]...)
}

resource "aws_eks_node_group" "this" {
  for_each = local.node_groups_per_az

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = [each.value.subnet_id]
  instance_types  = each.value.instance_types
  capacity_type   = each.value.capacity_type
  ami_type        = "AL2023_ARM_64_STANDARD"
  labels          = each.value.labels

  launch_template {
    id      = aws_launch_template.node[each.value.group].id
    version = aws_launch_template.node[each.value.group].latest_version
  }

  scaling_config {
    min_size     = each.value.min_size_per_az
    max_size     = each.value.max_size_per_az
    desired_size = each.value.desired_size_per_az
  }

  # One node of a zone at a time: the validator's pods are one per node (required
  # anti-affinity) and its PodDisruptionBudget lets one go at a time anyway.
  update_config {
    max_unavailable = 1
  }

  # Node auto-repair replaces nodes that report NotReady instead of paging someone.
  node_repair_config {
    enabled = true
  }

  tags = var.tags

  # The cluster autoscaler owns desired_size once the group exists.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  # Nodes only become Ready once aws-node can assign pod IPs, which needs the add-on's
  # IRSA role (the node role has no CNI policy).
  depends_on = [aws_iam_role_policy_attachment.node, aws_eks_addon.vpc_cni]
}

# EKS already tags the Auto Scaling groups of managed node groups for autoscaler
# auto-discovery; these tags add the node labels, and the zone, so that the autoscaler can
# scale a group up from zero knowing which pods would fit (a zone-spread pod fits only the
# group of its zone).
resource "aws_autoscaling_group_tag" "autoscaler_labels" {
  for_each = {
    for item in flatten([
      for name, ng in local.node_groups_per_az : [
        for k, v in merge(ng.labels, { "topology.kubernetes.io/zone" = ng.az }) :
        { node_group = name, key = k, value = v }
      ]
    ]) : "${item.node_group}/${item.key}" => item
  }

  autoscaling_group_name = aws_eks_node_group.this[each.value.node_group].resources[0].autoscaling_groups[0].name

  tag {
    key                 = "k8s.io/cluster-autoscaler/node-template/label/${each.value.key}"
    value               = each.value.value
    propagate_at_launch = false
  }
}

################################################################################
# Add-ons managed by EKS
################################################################################

# The VPC CNI, before any node (see aws_eks_node_group): with its own IRSA role, and with
# the network policy agent on. Without `enableNetworkPolicy` the add-on runs no policy
# agent and no NetworkPolicy of kustomize/ is enforced on EKS (they would be accepted by
# the API server and silently ignored). The key is the add-on's top-level configuration
# schema key (vpc-cni >= v1.14, `aws eks describe-addon-configuration`); its value is a
# string in that schema.
resource "aws_eks_addon" "vpc_cni" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "vpc-cni"
  service_account_role_arn    = module.vpc_cni_irsa.role_arn
  configuration_values        = jsonencode({ enableNetworkPolicy = "true" })
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags
}

# It used to be one instance of aws_eks_addon.this: keep the running add-on.
moved {
  from = aws_eks_addon.this["vpc-cni"]
  to   = aws_eks_addon.vpc_cni
}

# metrics-server serves the resource metrics API (metrics.k8s.io) the HPA's CPU target
# reads; as an EKS (community) add-on its image comes from EKS's own registry and its
# version is matched to the cluster version by EKS, so no image is pinned or mirrored here.
resource "aws_eks_addon" "this" {
  for_each = toset(["coredns", "kube-proxy", "metrics-server"])

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.value
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags

  # coredns needs nodes to schedule on.
  depends_on = [aws_eks_node_group.this]
}
