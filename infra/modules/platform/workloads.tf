# IAM for the platform's own workloads. Each role trusts exactly one service account in the
# transaction-validator namespace and can touch only that workload's resources.

locals {
  secrets_via_secretsmanager = "secretsmanager.${local.region}.amazonaws.com"
}

################################################################################
# transaction-validator (the payment-validation API)
################################################################################

data "aws_iam_policy_document" "transaction_validator" {
  # "iam" mode: logs in to Aurora through RDS Proxy with an IAM token as
  # `transaction_validator`. ("password" mode: its DATABASE_URL secret, below.)
  dynamic "statement" {
    for_each = var.database_client_auth == "iam" ? [1] : []

    content {
      sid       = "ConnectToDatabaseThroughProxy"
      actions   = ["rds-db:connect"]
      resources = [module.aurora.proxy_db_connect_arns["transaction_validator"]]
    }
  }

  # PAN_HMAC_KEY, the Redis credentials and (password mode) DATABASE_URL, read by the
  # namespaced External Secrets SecretStore that authenticates as this service account.
  statement {
    sid     = "ReadOwnSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = concat(
      [module.secrets.secret_arns["pan_hmac_key"], module.redis.secret_arn],
      [for u, arn in module.aurora.user_url_secret_arns : arn if u == "transaction_validator"],
    )
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = [module.kms_secrets.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.secrets_via_secretsmanager]
    }
  }
}

module "transaction_validator_irsa" {
  source = "../irsa-role"

  name              = "${local.name}-transaction-validator"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_host  = module.eks.oidc_issuer_host
  namespace         = local.app_namespace
  service_account   = "transaction-validator"
  policy_json       = data.aws_iam_policy_document.transaction_validator.json
  tags              = local.tags
}

################################################################################
# fx-rates-etl (CronJob writing FX rates to s3://<etl bucket>/fx-rates/)
################################################################################

data "aws_iam_policy_document" "fx_rates_etl" {
  statement {
    sid       = "ListOwnPrefix"
    actions   = ["s3:ListBucket"]
    resources = [module.etl_bucket.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["fx-rates/", "fx-rates/*"]
    }
  }

  statement {
    sid       = "ReadWriteOwnPrefix"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${module.etl_bucket.bucket_arn}/fx-rates/*"]
  }

  statement {
    sid       = "EncryptObjectsThroughS3"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [module.kms_data.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }

    # The data key is shared (Aurora, Redis, ECR, EBS, S3): only for this bucket's objects.
    # With S3 Bucket Keys on (modules/s3-bucket) the context is the bucket's ARN; objects
    # written before would carry their own ARN, under the one prefix.
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [module.etl_bucket.bucket_arn, "${module.etl_bucket.bucket_arn}/fx-rates/*"]
    }
  }

  statement {
    sid       = "ReadApiKey"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [module.secrets.secret_arns["fx_rates_api_key"]]
  }

  statement {
    sid       = "DecryptApiKey"
    actions   = ["kms:Decrypt"]
    resources = [module.kms_secrets.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.secrets_via_secretsmanager]
    }
  }
}

module "fx_rates_etl_irsa" {
  source = "../irsa-role"

  name              = "${local.name}-fx-rates-etl"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_host  = module.eks.oidc_issuer_host
  namespace         = local.app_namespace
  service_account   = "fx-rates-etl"
  policy_json       = data.aws_iam_policy_document.fx_rates_etl.json
  tags              = local.tags
}

################################################################################
# operator-console (read-only web console)
################################################################################

# Logs in as `operator_console`, a database role that is granted SELECT only: with an IAM
# token ("iam" mode) or with its own DATABASE_URL secret ("password" mode). Its SecretStore
# also syncs the IdP client of the ALB's sign-in, in both modes.
data "aws_iam_policy_document" "operator_console" {
  statement {
    sid       = "ReadAlbSignInClient"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [module.secrets.secret_arns["operator_console_oidc"]]
  }

  dynamic "statement" {
    for_each = var.database_client_auth == "iam" ? [1] : []

    content {
      sid       = "ConnectToDatabaseThroughProxy"
      actions   = ["rds-db:connect"]
      resources = [module.aurora.proxy_db_connect_arns["operator_console"]]
    }
  }

  dynamic "statement" {
    for_each = var.database_client_auth == "password" ? [1] : []

    content {
      sid       = "ReadOwnDatabaseUrl"
      actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      resources = [module.aurora.user_url_secret_arns["operator_console"]]
    }
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = [module.kms_secrets.key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.secrets_via_secretsmanager]
    }
  }
}

module "operator_console_irsa" {
  source = "../irsa-role"

  name              = "${local.name}-operator-console"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_host  = module.eks.oidc_issuer_host
  namespace         = local.app_namespace
  service_account   = "operator-console"
  policy_json       = data.aws_iam_policy_document.operator_console.json
  tags              = local.tags
}
