# The whole composition with a mocked AWS provider: checks the wiring between modules and
# the values handed to the kustomize overlays.
# The provider still validates arguments, so mocked ARNs, ids and policy JSON must look real.
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

run "prod_like" {
  assert {
    condition     = output.nat_gateway_count == 3
    error_message = "prod needs one NAT gateway per AZ."
  }

  assert {
    condition = (
      output.database_url_secret_name == "transaction-validator/prod/database/transaction_validator/url" &&
      output.secret_names["database_url"] == output.database_url_secret_name &&
      output.database_iam_url == null &&
      output.operator_console_database_iam_url == null
    )
    error_message = "password mode (the default) must output the DATABASE_URL secret for the ExternalSecret."
  }

  assert {
    condition = alltrue([for arn in [
      output.transaction_validator_role_arn, output.fx_rates_etl_role_arn, output.operator_console_role_arn,
      output.aws_load_balancer_controller_role_arn, output.cluster_autoscaler_role_arn, output.external_secrets_role_arn,
      output.waf_web_acl_arn, output.redis_secret_arn, output.pan_hmac_key_secret_arn, output.fx_rates_api_key_secret_arn,
    ] : arn != null && arn != ""])
    error_message = "Every value the overlays need must be output."
  }

  assert {
    condition     = output.redis_configuration_endpoint == "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    error_message = "The Redis configuration endpoint must be output."
  }

  assert {
    condition     = length(output.ecr_repository_urls) == 3 && output.etl_bucket_prefix == "fx-rates/"
    error_message = "ECR repositories and the ETL prefix must be output."
  }

  assert {
    condition     = output.secret_names["redis"] == "transaction-validator/prod/redis" && output.secret_names["pan_hmac_key"] == "transaction-validator/prod/pan-hmac-key" && output.secret_names["operator_console_oidc"] == "transaction-validator/prod/operator-console-oidc"
    error_message = "Secret names must follow transaction-validator/<env>/<name>."
  }
}

run "dr_copies_backups_and_secrets_to_another_region" {
  variables {
    dr = { enabled = true, backup_lock_mode = "compliance" }
  }

  assert {
    condition     = output.dr_backup.region == "eu-west-1" && split(":", output.dr_backup.vault_arn)[3] == "eu-west-1"
    error_message = "The backup copies must go to a vault of the DR provider's region."
  }

  assert {
    condition     = toset(module.backup[0].resource_arns) == toset([module.aurora.cluster_arn, module.etl_bucket.bucket_arn])
    error_message = "Aurora and the ETL bucket must both be backed up and copied."
  }

  assert {
    condition     = module.secrets.replica_region == "eu-west-1" && split(":", module.kms_dr_secrets[0].key_arn)[3] == "eu-west-1"
    error_message = "The secrets' replicas need their own key in the DR region."
  }
}

run "iam_mode" {
  variables {
    database_client_auth = "iam"
  }

  assert {
    condition     = output.database_iam_url == "postgres://transaction_validator@tv-test.proxy-abc.eu-central-1.rds.amazonaws.com:5432/payments?sslmode=verify-full"
    error_message = "iam mode: DATABASE_URL must point at the proxy with verify-full TLS and carry no password."
  }

  assert {
    condition     = output.operator_console_database_iam_url == "postgres://operator_console@tv-test.proxy-abc.eu-central-1.rds.amazonaws.com:5432/payments?sslmode=verify-full"
    error_message = "iam mode: the console's DATABASE_URL must log in as operator_console (SELECT only) through the proxy, verify-full, no password."
  }

  assert {
    condition     = output.operator_console_database_url_secret_name == null
    error_message = "iam mode must not create the console's DATABASE_URL secret."
  }

  assert {
    condition     = output.database_url_secret_name == null && !contains(keys(output.secret_names), "database_url")
    error_message = "iam mode must not create a DATABASE_URL secret."
  }
}

run "dev_like" {
  variables {
    environment         = "dev"
    single_nat_gateway  = true
    deletion_protection = false
  }

  assert {
    condition     = output.nat_gateway_count == 1
    error_message = "dev uses a single NAT gateway."
  }

  assert {
    condition     = output.dr_backup == null && length(module.backup) == 0 && length(module.kms_dr_secrets) == 0
    error_message = "Without dr.enabled nothing is created in the DR region."
  }
}

run "rejects_short_log_retention" {
  command = plan

  variables {
    log_retention_days = 90
  }

  expect_failures = [var.log_retention_days]
}

run "rejects_malformed_certificate_arn" {
  command = plan

  variables {
    acm_certificate_arn = "not-an-arn"
  }

  expect_failures = [var.acm_certificate_arn]
}

run "prod_buckets_are_never_force_destroyed" {
  command = plan

  variables {
    etl_bucket_force_destroy = true
  }

  expect_failures = [var.etl_bucket_force_destroy]
}

run "prod_audit_logs_are_never_force_destroyed" {
  command = plan

  variables {
    audit_bucket_force_destroy = true
  }

  expect_failures = [var.audit_bucket_force_destroy]
}

# The account's audit trail is part of every environment, kept as long as its logs.
run "audit_is_wired" {
  command = plan

  assert {
    condition     = module.audit.bucket_name == "tv-test-audit" && module.audit.config_recorder_name == "tv-prod"
    error_message = "The environment must have its audit module, named after it, writing to audit_bucket_name."
  }
}


# KMS refuses a key policy that names a principal which does not exist; in a fresh account
# the Auto Scaling service-linked role does not exist until the first Auto Scaling group,
# which comes after the key. It must be created here and named from the resource.
run "autoscaling_service_linked_role_exists_before_the_data_key" {
  override_resource {
    target = aws_iam_service_linked_role.autoscaling
    values = { arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling-created" }
  }

  assert {
    condition     = length(aws_iam_service_linked_role.autoscaling) == 1 && aws_iam_service_linked_role.autoscaling[0].aws_service_name == "autoscaling.amazonaws.com"
    error_message = "The Auto Scaling service-linked role must be created by default."
  }

  assert {
    condition     = output.autoscaling_service_linked_role_arn == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling-created"
    error_message = "The data key's policy must take the role's ARN from the created resource (so the key waits for it)."
  }
}

run "existing_autoscaling_service_linked_role" {
  command = plan

  variables {
    create_autoscaling_service_linked_role = false
  }

  assert {
    condition     = length(aws_iam_service_linked_role.autoscaling) == 0 && output.autoscaling_service_linked_role_arn == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    error_message = "An account that has the role already must be able to name it without creating it."
  }
}
