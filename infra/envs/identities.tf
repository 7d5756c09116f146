# What CI uses in this environment's account (../modules/ci-identities), how its deploys
# reach the private cluster (../modules/eks-api-tunnel), and the environment's break-glass
# cluster admin. See infra/README.md "CI identities".

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The state key of ../bootstrap, found by its alias: the plan role decrypts the state.
data "aws_kms_alias" "state" {
  name = "alias/transaction-validator/tfstate-${var.environment}"
}

locals {
  ci_name    = "tv-${var.environment}"
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  ci_tags = merge(var.tags, {
    Environment = var.environment
    Service     = "transaction-validator"
    ManagedBy   = "opentofu"
  })
}

# One set per environment, in the environment's account. The GitHub environment of the apply
# and deploy roles is named like this one (dev, staging, prod): deploy.yml's and infra.yml's
# jobs declare it, and its protection rules (required reviewers, main only) are what guard them.
module "ci_identities" {
  source = "../modules/ci-identities"

  name_prefix          = local.ci_name
  github_repository    = var.ci_github_repository
  create_oidc_provider = var.ci_create_github_oidc_provider
  # The provider's ARN is fixed by IAM, so an environment that does not own it can name it.
  oidc_provider_arn = var.ci_create_github_oidc_provider ? null : "arn:${local.partition}:iam::${local.account_id}:oidc-provider/token.actions.githubusercontent.com"
  environments      = [var.environment]
  state_bucket_arn  = "arn:${local.partition}:s3:::${var.ci_state_bucket_name}"
  # The `key` of <env>.s3.tfbackend (the tests compare them): dagger call plan locks the state.
  state_key         = "envs/${var.environment}/terraform.tfstate"
  state_kms_key_arn = data.aws_kms_alias.state.target_key_arn
  apply_policy_arns = var.ci_apply_policy_arns
  # Refreshing the secrets Terraform writes needs their values (see variables.tf).
  plan_secret_arns    = var.ci_plan_reads_terraform_written_secrets ? module.platform.terraform_written_secret_arns : []
  secrets_kms_key_arn = module.platform.secrets_kms_key_arn
  ecr_repository_arns = values(module.platform.ecr_repository_arns)
  ecr_kms_key_arn     = module.platform.data_kms_key_arn
  # One deletion window for every key of the environment (7 days in dev).
  image_signing_key_deletion_window_days = var.kms_deletion_window_days
  cluster_name                           = module.platform.cluster_name
  tags                                   = local.ci_tags
}

# Deploys (and the break-glass admin) reach the private API through a Session Manager
# port-forward; only these roles may open one.
module "eks_api_tunnel" {
  source = "../modules/eks-api-tunnel"

  name                      = local.ci_name
  vpc_id                    = module.platform.vpc_id
  subnet_ids                = module.platform.private_subnet_ids
  cluster_security_group_id = module.platform.eks_cluster_security_group_id
  ebs_kms_key_arn           = module.platform.data_kms_key_arn
  session_role_names        = concat(values(module.ci_identities.deploy_role_names), [aws_iam_role.cluster_admin.name])
  tags                      = local.ci_tags
}

################################################################################
# Break-glass cluster admin: the one admin access entry every environment has
################################################################################

# Any identity of this account that its own IAM policy lets assume the role, with MFA.
# Cluster-scoped objects (namespaces, ClusterRoles, the deployer's RBAC in
# kustomize/deployer-rbac) are applied with it; more admins: cluster_admin_principal_arns.
data "aws_iam_policy_document" "cluster_admin_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role" "cluster_admin" {
  name                 = "${local.ci_name}-cluster-admin"
  description          = "Break-glass Kubernetes cluster admin of ${local.ci_name} (MFA)"
  assume_role_policy   = data.aws_iam_policy_document.cluster_admin_trust.json
  max_session_duration = var.cluster_admin_role_max_session_hours * 3600
  tags                 = local.ci_tags
}

data "aws_iam_policy_document" "cluster_admin" {
  statement {
    sid       = "FindTheCluster"
    actions   = ["eks:DescribeCluster"]
    resources = ["arn:${local.partition}:eks:${var.region}:${local.account_id}:cluster/${module.platform.cluster_name}"]
  }
}

resource "aws_iam_role_policy" "cluster_admin" {
  name   = "eks-describe"
  role   = aws_iam_role.cluster_admin.id
  policy = data.aws_iam_policy_document.cluster_admin.json
}

resource "aws_eks_access_entry" "cluster_admin" {
  cluster_name  = module.platform.cluster_name
  principal_arn = aws_iam_role.cluster_admin.arn
  type          = "STANDARD"
  tags          = local.ci_tags
}

resource "aws_eks_access_policy_association" "cluster_admin" {
  cluster_name  = module.platform.cluster_name
  principal_arn = aws_eks_access_entry.cluster_admin.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}
