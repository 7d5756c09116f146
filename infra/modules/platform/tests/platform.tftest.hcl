# The whole composition with a mocked AWS provider: checks the wiring between modules and
# the values handed to the kustomize overlays.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      name                  = "tv-test"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }] }]
      certificate_authority = [{ data = "LS0tLS1CRUdJTi0tLS0t" }]
    }
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
      cluster_identifier  = "tv-test"
      database_name       = "payments"
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret  = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      configuration_endpoint_address = "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    }
  }
}

variables {
  environment        = "prod"
  azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  vpc_cidr           = "10.30.0.0/16"
  single_nat_gateway = false
  node_groups = {
    default = {
      instance_types = ["m7g.xlarge"]
      min_size       = 3
      max_size       = 12
      desired_size   = 3
    }
  }
  deletion_protection      = true
  aurora_instance_class    = "db.r7g.xlarge"
  aurora_instance_count    = 3
  redis_node_type          = "cache.r7g.large"
  redis_num_shards         = 2
  redis_replicas_per_shard = 2
  etl_bucket_name          = "tv-test-etl-data"
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
      output.database_iam_url == null
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
    condition     = output.secret_names["redis"] == "transaction-validator/prod/redis" && output.secret_names["pan_hmac_key"] == "transaction-validator/prod/pan-hmac-key"
    error_message = "Secret names must follow transaction-validator/<env>/<name>."
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
