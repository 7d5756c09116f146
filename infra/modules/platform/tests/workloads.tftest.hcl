# The workloads' IRSA roles (workloads.tf): each names exactly one prefix of one bucket, one
# secret, one key. Distinct ARNs per secret and key (overrides below) make "exactly this
# one" meaningful: with the shared mock defaults every secret would have the same ARN.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_iam_service_linked_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-central-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-central-1:123456789012:mock" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:mock-AbCdEf" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = { arn = "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/mock/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-central-1:123456789012:repository/mock"
      repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mock"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-central-1:123456789012:cluster/mock"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }] }]
      certificate_authority = [{ data = "LS0tLS1CRUdJTi0tLS0t" }]
    }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }
  mock_resource "aws_eks_node_group" {
    defaults = {
      resources = [{ autoscaling_groups = [{ name = "eks-default-asg" }], remote_access_security_group_id = "" }]
    }
  }
  mock_resource "aws_db_proxy" {
    defaults = {
      arn      = "arn:aws:rds:eu-central-1:123456789012:db-proxy:prx-0123456789abcdef0"
      endpoint = "tv-test.proxy-abc.eu-central-1.rds.amazonaws.com"
    }
  }
  mock_resource "aws_rds_cluster" {
    defaults = {
      arn                 = "arn:aws:rds:eu-central-1:123456789012:cluster:mock"
      endpoint            = "tv-test.cluster-abc.eu-central-1.rds.amazonaws.com"
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret  = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      arn                            = "arn:aws:elasticache:eu-central-1:123456789012:replicationgroup:mock"
      configuration_endpoint_address = "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    }
  }
}

# The disaster-recovery region (provider aws.dr): backup copies and secret replicas.
mock_provider "aws" {
  alias = "dr"

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-3333-4444-555555555555", key_id = "66666666-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:eu-west-1:123456789012:backup-vault:mock-dr" }
  }
}

# Instances of one for_each resource cannot get different overrides, so the externally
# set secrets come from the module's outputs, and the database URL secrets (one resource
# for both users) share a "database" ARN: distinct from the PAN key, the FX key and Redis.
override_module {
  target = module.secrets
  outputs = {
    secret_arns = {
      pan_hmac_key          = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/pan-hmac-key-PaNkEy"
      fx_rates_api_key      = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/fx-rates-api-key-FxKeY1"
      operator_console_oidc = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/operator-console-oidc-OiDc12"
    }
    secret_names = {
      pan_hmac_key          = "transaction-validator/prod/pan-hmac-key"
      fx_rates_api_key      = "transaction-validator/prod/fx-rates-api-key"
      operator_console_oidc = "transaction-validator/prod/operator-console-oidc"
    }
  }
}

override_resource {
  target = module.aurora.aws_secretsmanager_secret.url
  values = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/database/user/url-DbUrL1" }
}

override_resource {
  target = module.kms_data.aws_kms_key.this
  values = { arn = "arn:aws:kms:eu-central-1:123456789012:key/dddddddd-2222-3333-4444-555555555555" }
}

override_resource {
  target = module.kms_secrets.aws_kms_key.this
  values = { arn = "arn:aws:kms:eu-central-1:123456789012:key/ssssssss-2222-3333-4444-555555555555" }
}

override_resource {
  target = module.etl_bucket.aws_s3_bucket.this
  values = { arn = "arn:aws:s3:::tv-test-etl-data", id = "tv-test-etl-data" }
}

variables {
  environment        = "prod"
  azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  vpc_cidr           = "10.30.0.0/16"
  single_nat_gateway = false
  node_groups = {
    default = {
      instance_types      = ["m7g.xlarge"]
      min_size_per_az     = 1
      max_size_per_az     = 4
      desired_size_per_az = 1
    }
  }
  deletion_protection      = true
  aurora_instance_class    = "db.r7g.xlarge"
  aurora_instance_count    = 3
  redis_node_type          = "cache.r7g.large"
  redis_num_shards         = 2
  redis_replicas_per_shard = 2
  etl_bucket_name          = "tv-test-etl-data"
  audit_bucket_name        = "tv-test-audit"
}

run "etl_touches_one_prefix_of_one_bucket" {

  assert {
    # Every S3 statement names exactly one resource: the bucket (ListBucket, limited by
    # s3:prefix) or the objects under fx-rates/.
    condition = alltrue([
      for s in data.aws_iam_policy_document.fx_rates_etl.statement :
      length(s.resources) == 1 && (
        s.resources == toset(["arn:aws:s3:::tv-test-etl-data/fx-rates/*"]) ||
        (s.resources == toset(["arn:aws:s3:::tv-test-etl-data"]) && toset(s.actions) == toset(["s3:ListBucket"]))
      ) if anytrue([for a in s.actions : startswith(a, "s3:")])
    ])
    error_message = "fx-rates-etl's S3 statements must name only s3://tv-test-etl-data/fx-rates/* (and the bucket for ListBucket)."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.fx_rates_etl.statement : s.actions if anytrue([for a in s.actions : startswith(a, "s3:")])
    ])) == toset(["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"])
    error_message = "fx-rates-etl may only list, get and put (and abort its own uploads); no delete, no ACLs, no wildcards."
  }

  assert {
    # ListBucket is limited to the one prefix by condition.
    condition = alltrue([
      for s in data.aws_iam_policy_document.fx_rates_etl.statement :
      length(s.condition) == 1 && one(s.condition).variable == "s3:prefix" && toset(one(s.condition).values) == toset(["fx-rates/", "fx-rates/*"])
      if contains(s.actions, "s3:ListBucket")
    ])
    error_message = "s3:ListBucket must be limited to the fx-rates/ prefix."
  }

  assert {
    condition     = output.etl_bucket_prefix == "fx-rates/" && output.etl_bucket_name == "tv-test-etl-data"
    error_message = "The prefix and bucket handed to the CronJob must be the ones the policy names."
  }
}

run "etl_reads_exactly_one_secret_and_uses_two_keys_via_their_services" {

  assert {
    condition = (
      length(flatten([for s in data.aws_iam_policy_document.fx_rates_etl.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])])) == 1 &&
      contains(flatten([for s in data.aws_iam_policy_document.fx_rates_etl.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])]),
      "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/fx-rates-api-key-FxKeY1")
    )
    error_message = "fx-rates-etl may read exactly one secret: the FX API key (not the PAN key, not a database URL)."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.fx_rates_etl.statement :
      length(s.resources) == 1 && anytrue([for c in s.condition : c.variable == "kms:ViaService"])
      if anytrue([for a in s.actions : startswith(a, "kms:")])
    ])
    error_message = "Each KMS statement names one key and is limited to use through S3 or Secrets Manager."
  }

  assert {
    # The data key only for this bucket's objects.
    condition = anytrue([
      for s in data.aws_iam_policy_document.fx_rates_etl.statement :
      contains(tolist(s.resources), "arn:aws:kms:eu-central-1:123456789012:key/dddddddd-2222-3333-4444-555555555555") &&
      anytrue([for c in s.condition : c.variable == "kms:EncryptionContext:aws:s3:arn" && toset(c.values) == toset(["arn:aws:s3:::tv-test-etl-data", "arn:aws:s3:::tv-test-etl-data/fx-rates/*"])])
    ])
    error_message = "The data key's use must be limited to the ETL bucket's encryption context."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.fx_rates_etl.statement : alltrue([for a in s.actions : !strcontains(a, "*")]) && alltrue([for r in s.resources : r != "*"])])
    error_message = "No wildcard actions or resources."
  }
}

run "console_reads_exactly_its_database_url" {

  assert {
    # Exactly two secrets: the console's own URL (the mock cannot tell the two users' URL
    # secrets apart: one for_each resource; the reference is to the operator_console key)
    # and the IdP client of the ALB's sign-in.
    condition = (
      length(flatten([for s in data.aws_iam_policy_document.operator_console.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])])) == 2 &&
      contains(flatten([for s in data.aws_iam_policy_document.operator_console.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])]),
      module.aurora.user_url_secret_arns["operator_console"]) &&
      contains(flatten([for s in data.aws_iam_policy_document.operator_console.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])]),
      module.secrets.secret_arns["operator_console_oidc"]) &&
      module.aurora.user_url_secret_arns["operator_console"] == "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/prod/database/user/url-DbUrL1"
    )
    error_message = "operator-console may read exactly two secrets: its own (SELECT-only) DATABASE_URL and the ALB sign-in's IdP client."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.operator_console.statement :
      toset(s.resources) == toset(["arn:aws:kms:eu-central-1:123456789012:key/ssssssss-2222-3333-4444-555555555555"]) &&
      anytrue([for c in s.condition : c.variable == "kms:ViaService" && toset(c.values) == toset(["secretsmanager.eu-central-1.amazonaws.com"])])
      if anytrue([for a in s.actions : startswith(a, "kms:")])
    ]) && length([for s in data.aws_iam_policy_document.operator_console.statement : s if anytrue([for a in s.actions : startswith(a, "kms:")])]) == 1
    error_message = "operator-console may decrypt with the secrets key only, and only through Secrets Manager."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.operator_console.statement : s.actions])) == toset([
      "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kms:Decrypt",
    ])
    error_message = "operator-console needs nothing but its secret (no S3, no rds-db:connect in password mode)."
  }

  assert {
    condition     = output.operator_console_database_url_secret_name == "transaction-validator/prod/database/operator_console/url"
    error_message = "The console's secret name must be output for the overlay's ExternalSecret."
  }
}

run "console_in_iam_mode_connects_as_itself_only" {
  variables {
    database_client_auth = "iam"
  }

  assert {
    condition = (
      length([for s in data.aws_iam_policy_document.operator_console.statement : s if contains(s.actions, "rds-db:connect")]) == 1 &&
      alltrue([for s in data.aws_iam_policy_document.operator_console.statement : length(s.resources) == 1 if contains(s.actions, "rds-db:connect")]) &&
      flatten([for s in data.aws_iam_policy_document.operator_console.statement : tolist(s.resources) if anytrue([for a in s.actions : startswith(a, "secretsmanager:")])]) == [module.secrets.secret_arns["operator_console_oidc"]]
    )
    error_message = "In iam mode the console may only rds-db:connect, as one database user, and read only the ALB sign-in's IdP client."
  }
}

# The service side of "iam" mode (svc/internal/dbauth) signs its tokens for the user in
# DATABASE_URL: the validator's role may connect as transaction_validator and nobody else,
# and only in that mode.
run "validator_in_iam_mode_connects_as_itself_only" {
  variables {
    database_client_auth = "iam"
  }

  assert {
    condition = (
      flatten([for s in data.aws_iam_policy_document.transaction_validator.statement : tolist(s.resources) if contains(s.actions, "rds-db:connect")]) == [module.aurora.proxy_db_connect_arns["transaction_validator"]] &&
      endswith(module.aurora.proxy_db_connect_arns["transaction_validator"], "/transaction_validator")
    )
    error_message = "In iam mode the validator may rds-db:connect through the proxy as transaction_validator only."
  }
}

run "validator_in_password_mode_cannot_connect_with_iam" {

  assert {
    condition     = length([for s in data.aws_iam_policy_document.transaction_validator.statement : s if contains(s.actions, "rds-db:connect")]) == 0
    error_message = "In password mode the validator's role must not carry rds-db:connect."
  }
}
