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
  name                = "tv-test"
  node_type           = "cache.r7g.large"
  num_shards          = 2
  replicas_per_shard  = 2
  subnet_ids          = ["subnet-a", "subnet-b", "subnet-c"]
  security_group_id   = "sg-redis"
  kms_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/data"
  secrets_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  logs_kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/logs"
  secret_name         = "transaction-validator/test/redis"
}

run "cluster_mode_encrypted_multi_az" {
  assert {
    condition     = aws_elasticache_replication_group.this.cluster_mode == "enabled" && aws_elasticache_replication_group.this.num_node_groups == 2
    error_message = "Redis must run in cluster mode with the requested shards."
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.parameter_group_name == aws_elasticache_parameter_group.this.name &&
      anytrue([for p in aws_elasticache_parameter_group.this.parameter : p.name == "cluster-enabled" && p.value == "yes"])
    )
    error_message = "The parameter group must enable cluster mode."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.multi_az_enabled && aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.replicas_per_node_group >= 1
    error_message = "Redis must be multi-AZ with automatic failover."
  }

  assert {
    condition     = tobool(aws_elasticache_replication_group.this.at_rest_encryption_enabled) && aws_elasticache_replication_group.this.kms_key_id == var.kms_key_arn
    error_message = "Redis must be encrypted at rest with the customer-managed key."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled && aws_elasticache_replication_group.this.transit_encryption_mode == "required"
    error_message = "Redis must require TLS in transit."
  }

  assert {
    condition     = toset(aws_elasticache_replication_group.this.user_group_ids) == toset([aws_elasticache_user_group.this.user_group_id])
    error_message = "Redis must authenticate with the RBAC user group."
  }

  assert {
    condition     = aws_elasticache_user.default.user_name == "default" && startswith(aws_elasticache_user.default.access_string, "off")
    error_message = "The built-in default user must be disabled."
  }

  assert {
    condition     = strcontains(aws_elasticache_user.app.access_string, "-@dangerous")
    error_message = "The service user must not be allowed dangerous commands."
  }

  assert {
    condition     = aws_secretsmanager_secret.app.kms_key_id == var.secrets_kms_key_arn
    error_message = "The Redis credentials secret must be encrypted with the secrets key."
  }

  assert {
    condition     = startswith(jsondecode(aws_secretsmanager_secret_version.app.secret_string).url, "rediss://transaction-validator:")
    error_message = "REDIS_ENDPOINT must be a TLS (rediss://) URL for the service user."
  }
}

run "rejects_no_replicas" {
  command = plan

  variables {
    replicas_per_shard = 0
  }

  expect_failures = [var.replicas_per_shard]
}
