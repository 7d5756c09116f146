# The whole transaction-validator platform for one environment. Environment roots
# (infra/envs/*) only choose sizes and HA levels; everything that must hold in every
# environment (encryption, multi-AZ, backups, retention, network rules) is fixed here.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name       = "tv-${var.environment}"
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  # /16 VPC: a /19 of pod-capable private space per AZ (the VPC CNI gives pods VPC IPs),
  # /24s for load balancers / NAT and for the data tier.
  private_subnet_cidrs  = [for i in range(3) : cidrsubnet(var.vpc_cidr, 3, i)]
  public_subnet_cidrs   = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 96 + i)]
  database_subnet_cidrs = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 112 + i)]

  app_namespace = "transaction-validator"

  tags = merge(var.tags, {
    Environment = var.environment
    Service     = "transaction-validator"
    ManagedBy   = "opentofu"
  })
}

################################################################################
# KMS: one key per kind of data, so that access to logs never implies access to data
################################################################################

module "kms_logs" {
  source = "../kms"

  alias                   = "${local.name}/logs"
  description             = "CloudWatch log groups of ${local.name}"
  allow_cloudwatch_logs   = true
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = local.tags
}

# EKS nodes' encrypted root volumes are created by Auto Scaling on our behalf, as its
# service-linked role, which the data key's policy must name. KMS rejects a key policy
# naming a principal that does not exist (MalformedPolicyDocumentException), and AWS only
# creates this role by itself when the account's first Auto Scaling group is created:
# after the key, in a fresh account. So the role is created here, and the key policy takes
# its ARN from the resource (which orders the two). Where the account already has the
# role, set create_autoscaling_service_linked_role = false (or import it).
resource "aws_iam_service_linked_role" "autoscaling" {
  count = var.create_autoscaling_service_linked_role ? 1 : 0

  aws_service_name = "autoscaling.amazonaws.com"
  description      = "Default service-linked role of Amazon EC2 Auto Scaling (EKS managed node groups)"
}

locals {
  autoscaling_service_linked_role_arn = (
    var.create_autoscaling_service_linked_role
    ? aws_iam_service_linked_role.autoscaling[0].arn
    : "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
  )
}

module "kms_data" {
  source = "../kms"

  alias                   = "${local.name}/data"
  description             = "Aurora, Redis, S3, ECR and EBS data of ${local.name}"
  deletion_window_in_days = var.kms_deletion_window_days
  grant_principal_arns    = [local.autoscaling_service_linked_role_arn]
  tags                    = local.tags
}

module "kms_secrets" {
  source = "../kms"

  alias                   = "${local.name}/secrets"
  description             = "Secrets Manager secrets and Kubernetes Secrets (EKS envelope encryption) of ${local.name}"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = local.tags
}

module "kms_alerts" {
  source = "../kms"

  alias                   = "${local.name}/alerts"
  description             = "SNS alert topic of ${local.name}"
  service_principals      = ["cloudwatch.amazonaws.com", "elasticache.amazonaws.com"]
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = local.tags
}

################################################################################
# Network
################################################################################

module "network" {
  source = "../network"

  name                     = local.name
  cluster_name             = local.name
  vpc_cidr                 = var.vpc_cidr
  azs                      = var.azs
  public_subnet_cidrs      = local.public_subnet_cidrs
  private_subnet_cidrs     = local.private_subnet_cidrs
  database_subnet_cidrs    = local.database_subnet_cidrs
  single_nat_gateway       = var.single_nat_gateway
  app_port                 = 8080
  cluster_admin_cidrs      = var.cluster_admin_cidrs
  flow_logs_retention_days = var.log_retention_days
  logs_kms_key_arn         = module.kms_logs.key_arn
  tags                     = local.tags
}

################################################################################
# Compute
################################################################################

module "eks" {
  source = "../eks"

  name                        = local.name
  kubernetes_version          = var.kubernetes_version
  subnet_ids                  = module.network.private_subnet_ids
  node_subnet_ids             = zipmap(var.azs, module.network.private_subnet_ids)
  cluster_security_group_id   = module.network.eks_cluster_security_group_id
  node_security_group_id      = module.network.eks_nodes_security_group_id
  secrets_kms_key_arn         = module.kms_secrets.key_arn
  ebs_kms_key_arn             = module.kms_data.key_arn
  logs_kms_key_arn            = module.kms_logs.key_arn
  secrets_manager_kms_key_arn = module.kms_secrets.key_arn
  log_retention_days          = var.log_retention_days
  deletion_protection         = var.deletion_protection
  admin_principal_arns        = var.cluster_admin_principal_arns
  node_groups                 = var.node_groups
  tags                        = local.tags
}

################################################################################
# Data
################################################################################

module "aurora" {
  source = "../aurora"

  name                                = local.name
  client_auth                         = var.database_client_auth
  user_secret_prefix                  = "${local.app_namespace}/${var.environment}/database"
  secret_recovery_window_days         = var.secret_recovery_window_days
  engine_version                      = var.aurora_engine_version
  instance_class                      = var.aurora_instance_class
  instance_count                      = var.aurora_instance_count
  azs                                 = var.azs
  subnet_ids                          = module.network.database_subnet_ids
  security_group_id                   = module.network.aurora_security_group_id
  proxy_security_group_id             = module.network.rds_proxy_security_group_id
  kms_key_arn                         = module.kms_data.key_arn
  secrets_kms_key_arn                 = module.kms_secrets.key_arn
  logs_kms_key_arn                    = module.kms_logs.key_arn
  backup_retention_days               = var.aurora_backup_retention_days
  deletion_protection                 = var.deletion_protection
  performance_insights_retention_days = var.aurora_performance_insights_retention_days
  log_retention_days                  = var.log_retention_days
  tags                                = local.tags
}

################################################################################
# Disaster recovery: copies in another region (provider aws.dr)
################################################################################

module "backup" {
  source = "../backup"
  count  = var.dr.enabled ? 1 : 0
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  name                     = local.name
  resource_arns            = [module.aurora.cluster_arn, module.etl_bucket.bucket_arn]
  kms_key_arn              = module.kms_data.key_arn
  schedule                 = var.dr.backup_schedule
  retention_days           = var.dr.backup_retention_days
  lock_mode                = var.dr.backup_lock_mode
  kms_deletion_window_days = var.kms_deletion_window_days
  tags                     = local.tags
}

# The secrets' replicas need a key of the DR region; a key of their own, as in the primary
# region, so that reading backups never implies reading secrets.
module "kms_dr_secrets" {
  source = "../kms"
  count  = var.dr.enabled ? 1 : 0
  providers = {
    aws = aws.dr
  }

  alias                   = "${local.name}/secrets-dr"
  description             = "Replicas of the Secrets Manager secrets of ${local.name} (disaster recovery)"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = local.tags
}

module "redis" {
  source = "../redis"

  name                        = local.name
  node_type                   = var.redis_node_type
  num_shards                  = var.redis_num_shards
  replicas_per_shard          = var.redis_replicas_per_shard
  subnet_ids                  = module.network.database_subnet_ids
  security_group_id           = module.network.redis_security_group_id
  kms_key_arn                 = module.kms_data.key_arn
  secrets_kms_key_arn         = module.kms_secrets.key_arn
  logs_kms_key_arn            = module.kms_logs.key_arn
  log_retention_days          = var.log_retention_days
  notification_topic_arn      = module.observability.alerts_topic_arn
  secret_name                 = "${local.app_namespace}/${var.environment}/redis"
  secret_recovery_window_days = var.secret_recovery_window_days
  tags                        = local.tags
}

################################################################################
# Secrets whose values come from outside (set once with put-secret-value)
################################################################################

module "secrets" {
  source = "../secrets"

  secrets = {
    pan_hmac_key = {
      name            = "${local.app_namespace}/${var.environment}/pan-hmac-key"
      description     = "PAN_HMAC_KEY of transaction-validator (HMAC key for PAN fingerprints)"
      service_account = "transaction-validator/transaction-validator"
    }
    fx_rates_api_key = {
      name            = "${local.app_namespace}/${var.environment}/fx-rates-api-key"
      description     = "API key of the FX-rates provider, read by the fx-rates-etl CronJob"
      service_account = "transaction-validator/fx-rates-etl"
    }
    # The IdP client the ALB signs operators in with ({"clientID", "clientSecret"}): the
    # console's SecretStore syncs it into the Secret the Load Balancer Controller reads
    # (kustomize/components/operator-console); the console's pods never mount it.
    operator_console_oidc = {
      name            = "${local.app_namespace}/${var.environment}/operator-console-oidc"
      description     = "OIDC client of the operator console's ALB authentication (clientID, clientSecret)"
      service_account = "transaction-validator/operator-console"
    }
  }
  kms_key_arn          = module.kms_secrets.key_arn
  recovery_window_days = var.secret_recovery_window_days
  # PAN_HMAC_KEY above all: without it the audit log's PAN fingerprints restored in the DR
  # region could never be matched again.
  replica = var.dr.enabled ? { region = module.backup[0].dr_region, kms_key_arn = module.kms_dr_secrets[0].key_arn } : null
  tags    = local.tags
}

################################################################################
# Edge and artifacts
################################################################################

module "waf" {
  source = "../waf"

  name                     = local.name
  rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes
  logs_kms_key_arn         = module.kms_logs.key_arn
  log_retention_days       = var.log_retention_days
  tags                     = local.tags
}

module "ecr" {
  source = "../ecr"

  # Images are promoted dev -> staging -> prod by digest; each account has its own copy.
  repository_names = ["transaction-validator", "fx-rates-etl", "operator-console"]
  kms_key_arn      = module.kms_data.key_arn
  tags             = local.tags
}

module "etl_bucket" {
  source = "../s3-bucket"

  name          = var.etl_bucket_name
  kms_key_arn   = module.kms_data.key_arn
  force_destroy = var.etl_bucket_force_destroy
  tags          = local.tags
}

################################################################################
# Audit: CloudTrail, GuardDuty and AWS Config for the environment's account
################################################################################

# One per account and region: the environments are meant to live in accounts of their own
# (infra/README.md, "CI identities"); a second environment in the same account would fail
# on the GuardDuty detector and the Config recorder (AWS allows one of each per region).
module "audit" {
  source = "../audit"

  name                     = local.name
  bucket_name              = var.audit_bucket_name
  force_destroy            = var.audit_bucket_force_destroy
  log_retention_days       = var.log_retention_days
  kms_deletion_window_days = var.kms_deletion_window_days
  tags                     = local.tags
}

################################################################################
# Observability
################################################################################

module "observability" {
  source = "../observability"

  name                      = local.name
  cluster_name              = module.eks.cluster_name
  kms_key_arn               = module.kms_alerts.key_arn
  logs_kms_key_arn          = module.kms_logs.key_arn
  log_retention_days        = var.log_retention_days
  alert_emails              = var.alert_emails
  alert_https_endpoints     = var.alert_https_endpoints
  aurora_cluster_identifier = module.aurora.cluster_identifier
  redis = {
    replication_group_id = local.name
    num_shards           = var.redis_num_shards
    replicas_per_shard   = var.redis_replicas_per_shard
  }
  alb_arn_suffix = var.alb_arn_suffix
  tags           = local.tags
}
