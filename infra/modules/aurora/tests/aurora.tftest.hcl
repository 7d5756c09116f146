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

variables {
  name                    = "tv-test"
  instance_class          = "db.r7g.large"
  instance_count          = 3
  azs                     = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  subnet_ids              = ["subnet-a", "subnet-b", "subnet-c"]
  security_group_id       = "sg-aurora"
  proxy_security_group_id = "sg-proxy"
  kms_key_arn             = "arn:aws:kms:eu-central-1:123456789012:key/data"
  secrets_kms_key_arn     = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  logs_kms_key_arn        = "arn:aws:kms:eu-central-1:123456789012:key/logs"
  deletion_protection     = true
  user_secret_prefix      = "transaction-validator/test/database"
}

run "encrypted_multi_az_backed_up" {
  assert {
    condition     = aws_rds_cluster.this.storage_encrypted == true && aws_rds_cluster.this.kms_key_id == var.kms_key_arn
    error_message = "Aurora storage must be encrypted with the customer-managed key."
  }

  assert {
    condition     = aws_rds_cluster.this.backup_retention_period >= 7
    error_message = "Aurora must keep at least 7 days of backups."
  }

  assert {
    condition     = length(aws_rds_cluster_instance.this) >= 2 && length(distinct(aws_rds_cluster_instance.this[*].availability_zone)) == length(aws_rds_cluster_instance.this)
    error_message = "Aurora instances must sit in distinct availability zones."
  }

  assert {
    condition     = aws_rds_cluster.this.deletion_protection == true && aws_rds_cluster.this.skip_final_snapshot == false
    error_message = "Deletion protection and a final snapshot are required when asked for."
  }

  assert {
    condition     = aws_rds_cluster.this.iam_database_authentication_enabled == true && aws_rds_cluster.this.manage_master_user_password == true
    error_message = "IAM database authentication and an RDS-managed (rotated) master secret are required."
  }

  assert {
    condition     = contains(aws_rds_cluster.this.enabled_cloudwatch_logs_exports, "postgresql") && aws_cloudwatch_log_group.postgresql.retention_in_days >= 365
    error_message = "PostgreSQL logs must be exported to a log group kept for at least a year."
  }

  assert {
    condition = alltrue([
      for i in aws_rds_cluster_instance.this :
      i.performance_insights_enabled && i.performance_insights_kms_key_id == var.kms_key_arn && !i.publicly_accessible
    ])
    error_message = "Every instance needs encrypted Performance Insights and no public address."
  }

  assert {
    condition     = anytrue([for p in aws_rds_cluster_parameter_group.this.parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "The parameter group must force TLS."
  }
}

run "proxy_password_mode_serves_a_database_url" {
  assert {
    condition     = aws_db_proxy.this.require_tls == true && aws_db_proxy.this.default_auth_scheme == "NONE"
    error_message = "RDS Proxy must require TLS; password mode authenticates with the users' secrets."
  }

  assert {
    condition = length(aws_db_proxy.this.auth) == 2 && alltrue([
      for a in aws_db_proxy.this.auth :
      a.auth_scheme == "SECRETS" && a.client_password_auth_type == "POSTGRES_SCRAM_SHA_256" && contains(values(aws_secretsmanager_secret.credentials)[*].arn, a.secret_arn)
    ])
    error_message = "Each application user needs a SCRAM login at the proxy backed by its own secret."
  }

  assert {
    condition     = can(regex("^postgres://transaction_validator:[A-Za-z0-9]{48}@tv-test\\.proxy-abc\\.eu-central-1\\.rds\\.amazonaws\\.com:5432/payments\\?sslmode=verify-full$", aws_secretsmanager_secret_version.url["transaction_validator"].secret_string))
    error_message = "The DATABASE_URL secret must point at the proxy with verify-full TLS."
  }

  assert {
    condition     = aws_secretsmanager_secret.url["transaction_validator"].name == "transaction-validator/test/database/transaction_validator/url" && alltrue([for sec in values(aws_secretsmanager_secret.url) : sec.kms_key_id == var.secrets_kms_key_arn])
    error_message = "URL secrets must be named under the prefix and encrypted with the secrets key."
  }

  assert {
    condition     = jsondecode(aws_secretsmanager_secret_version.credentials["operator_console"].secret_string).username == "operator_console"
    error_message = "The proxy's credential secrets must be in the RDS JSON format."
  }
}

run "proxy_iam_mode_has_no_passwords" {
  variables {
    client_auth = "iam"
  }

  assert {
    condition     = aws_db_proxy.this.require_tls == true && aws_db_proxy.this.default_auth_scheme == "IAM_AUTH"
    error_message = "In iam mode the proxy must require TLS and IAM end to end."
  }

  assert {
    condition     = length(aws_secretsmanager_secret.url) == 0 && length(random_password.user) == 0
    error_message = "iam mode must not create any application password."
  }

  assert {
    condition     = output.proxy_db_connect_arns["transaction_validator"] == "arn:aws:rds-db:eu-central-1:123456789012:dbuser:prx-0123456789abcdef0/transaction_validator"
    error_message = "rds-db:connect ARNs must name the proxy's resource ID and the database user."
  }
}

# After AWS's automatic minor upgrade the configured version lags behind the running one;
# a changed engine_version (same situation, seen from the other side) must not be planned
# as an in-place engine change of the existing cluster.
run "minor_upgrades_by_aws_cause_no_drift" {
  command = plan

  variables {
    engine_version = "16.8"
  }

  assert {
    condition     = aws_rds_cluster.this.engine_version == "16.6"
    error_message = "engine_version must be ignored after creation (auto minor upgrades would otherwise be fought by every plan)."
  }
}

run "dev_can_turn_off_deletion_protection" {
  variables {
    deletion_protection = false
  }

  assert {
    condition     = aws_rds_cluster.this.deletion_protection == false && aws_rds_cluster.this.skip_final_snapshot == false
    error_message = "Without deletion protection a final snapshot must still be taken."
  }
}

run "rejects_single_instance" {
  command = plan

  variables {
    instance_count = 1
  }

  expect_failures = [var.instance_count]
}

run "rejects_short_backup_retention" {
  command = plan

  variables {
    backup_retention_days = 3
  }

  expect_failures = [var.backup_retention_days]
}
