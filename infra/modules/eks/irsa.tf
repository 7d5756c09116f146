# IRSA roles of the cluster's own controllers. Each is assumable only by its controller's
# service account (see ../irsa-role).

################################################################################
# Amazon VPC CNI (aws-node)
################################################################################

module "vpc_cni_irsa" {
  source = "../irsa-role"

  name                = "${var.name}-vpc-cni"
  oidc_provider_arn   = aws_iam_openid_connect_provider.this.arn
  oidc_issuer_host    = local.oidc_issuer_host
  namespace           = "kube-system"
  service_account     = "aws-node"
  attach_policy_json  = false
  managed_policy_arns = ["arn:${local.partition}:iam::aws:policy/AmazonEKS_CNI_Policy"]
  tags                = var.tags
}

################################################################################
# Cluster Autoscaler
################################################################################

data "aws_iam_policy_document" "cluster_autoscaler" {
  # Discovery calls do not support resource-level permissions.
  statement {
    sid = "Discover"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
      "eks:DescribeNodegroup",
    ]
    resources = ["*"]
  }

  # Scaling only the Auto Scaling groups that belong to this cluster's node groups (EKS tags
  # them `k8s.io/cluster-autoscaler/<cluster> = owned`).
  statement {
    sid = "ScaleOwnNodeGroups"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.name}"
      values   = ["owned"]
    }
  }
}

module "cluster_autoscaler_irsa" {
  source = "../irsa-role"

  name              = "${var.name}-cluster-autoscaler"
  oidc_provider_arn = aws_iam_openid_connect_provider.this.arn
  oidc_issuer_host  = local.oidc_issuer_host
  namespace         = "kube-system"
  service_account   = "cluster-autoscaler"
  policy_json       = data.aws_iam_policy_document.cluster_autoscaler.json
  tags              = var.tags
}

################################################################################
# AWS Load Balancer Controller (policy of the controller's v2.x iam_policy.json)
################################################################################

locals {
  elb_arn_prefix = "arn:${local.partition}:elasticloadbalancing:*:${data.aws_caller_identity.current.account_id}"
  ec2_sg_arn     = "arn:${local.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:security-group/*"
}

data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    sid       = "ServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcPeeringConnections",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeRouteTables",
      "ec2:DescribeIpamPools",
      "ec2:GetCoipPoolUsage",
      "ec2:DescribeCoipPools",
      "ec2:GetSecurityGroupsForVpc",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "elasticloadbalancing:DescribeCapacityReservation",
    ]
    resources = ["*"]
  }

  statement {
    sid = "CertificatesAndWaf"
    actions = [
      "acm:ListCertificates",
      "acm:DescribeCertificate",
      "iam:ListServerCertificates",
      "iam:GetServerCertificate",
      "wafv2:GetWebACL",
      "wafv2:GetWebACLForResource",
      "wafv2:AssociateWebACL",
      "wafv2:DisassociateWebACL",
      "shield:GetSubscriptionState",
      "shield:DescribeProtection",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "CreateSecurityGroup"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["*"]
  }

  statement {
    sid       = "TagSecurityGroupOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = [local.ec2_sg_arn]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "RetagOwnSecurityGroups"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = [local.ec2_sg_arn]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  # The controller opens the node security group to the load balancer's health checks and
  # manages the groups it created itself; both carry the elbv2.k8s.aws/cluster tag or are
  # the ALB/node groups passed in the Ingress annotations.
  statement {
    sid = "ManageSecurityGroupRules"
    actions = [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupIngress",
    ]
    resources = [local.ec2_sg_arn]
  }

  statement {
    sid       = "DeleteOwnSecurityGroups"
    actions   = ["ec2:DeleteSecurityGroup"]
    resources = [local.ec2_sg_arn]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid = "CreateLoadBalancers"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:CreateTargetGroup",
    ]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid = "ManageListenersAndRules"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule",
    ]
    resources = [
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
      "${local.elb_arn_prefix}:listener/app/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/app/*/*/*",
    ]
  }

  statement {
    sid     = "RetagOwnLoadBalancers"
    actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = [
      "${local.elb_arn_prefix}:targetgroup/*/*",
      "${local.elb_arn_prefix}:loadbalancer/net/*/*",
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid     = "TagListeners"
    actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = [
      "${local.elb_arn_prefix}:listener/net/*/*/*",
      "${local.elb_arn_prefix}:listener/app/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/net/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/app/*/*/*",
    ]
  }

  statement {
    sid     = "TagOnCreate"
    actions = ["elasticloadbalancing:AddTags"]
    resources = [
      "${local.elb_arn_prefix}:targetgroup/*/*",
      "${local.elb_arn_prefix}:loadbalancer/net/*/*",
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateTargetGroup", "CreateLoadBalancer"]
    }

    condition {
      test     = "Null"
      variable = "aws:RequestTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid = "ModifyOwnLoadBalancers"
    actions = [
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:ModifyCapacityReservation",
      "elasticloadbalancing:ModifyIpPools",
    ]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/elbv2.k8s.aws/cluster"
      values   = ["false"]
    }
  }

  statement {
    sid       = "RegisterTargets"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = ["${local.elb_arn_prefix}:targetgroup/*/*"]
  }

  statement {
    sid = "ManageListenerSettings"
    actions = [
      "elasticloadbalancing:SetWebAcl",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:SetRulePriorities",
    ]
    resources = [
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
      "${local.elb_arn_prefix}:listener/app/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/app/*/*/*",
    ]
  }
}

module "load_balancer_controller_irsa" {
  source = "../irsa-role"

  name              = "${var.name}-aws-load-balancer-controller"
  oidc_provider_arn = aws_iam_openid_connect_provider.this.arn
  oidc_issuer_host  = local.oidc_issuer_host
  namespace         = "kube-system"
  service_account   = "aws-load-balancer-controller"
  policy_json       = data.aws_iam_policy_document.load_balancer_controller.json
  tags              = var.tags
}

################################################################################
# External Secrets Operator
################################################################################

# The controller's own identity reads only the platform-wide secrets under
# `<cluster>/shared/*`. Application secrets are read through namespaced SecretStores that
# authenticate with the application's own service account (its IRSA role), so the
# controller cannot read transaction-validator's secrets by itself.
data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid = "ReadSharedSecrets"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
      "secretsmanager:ListSecretVersionIds",
    ]
    resources = ["arn:${local.partition}:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:${var.name}/shared/*"]
  }

  statement {
    sid       = "DecryptThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_manager_kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["secretsmanager.*.amazonaws.com"]
    }
  }
}

module "external_secrets_irsa" {
  source = "../irsa-role"

  name              = "${var.name}-external-secrets"
  oidc_provider_arn = aws_iam_openid_connect_provider.this.arn
  oidc_issuer_host  = local.oidc_issuer_host
  namespace         = "external-secrets"
  service_account   = "external-secrets"
  policy_json       = data.aws_iam_policy_document.external_secrets.json
  tags              = var.tags
}

################################################################################
# Container Insights (amazon-cloudwatch-observability add-on): node health metrics and
# container logs into the log groups of the observability module
################################################################################

module "cloudwatch_observability_irsa" {
  source = "../irsa-role"

  name                = "${var.name}-cloudwatch-agent"
  oidc_provider_arn   = aws_iam_openid_connect_provider.this.arn
  oidc_issuer_host    = local.oidc_issuer_host
  namespace           = "amazon-cloudwatch"
  service_account     = "cloudwatch-agent"
  attach_policy_json  = false
  managed_policy_arns = ["arn:${local.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"]
  tags                = var.tags
}

resource "aws_eks_addon" "cloudwatch_observability" {
  cluster_name             = aws_eks_cluster.this.name
  addon_name               = "amazon-cloudwatch-observability"
  service_account_role_arn = module.cloudwatch_observability_irsa.role_arn
  # Container logs go through kustomize/components/logging instead: its Fluent Bit redacts
  # anything that looks like a card number before it leaves the node; the add-on's own
  # log agent would ship the same lines unfiltered. Metrics (node health) stay on.
  configuration_values        = jsonencode({ containerLogs = { enabled = false } })
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags

  depends_on = [aws_eks_node_group.this]
}
