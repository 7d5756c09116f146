# The HA and protection choices of prod must not regress.
# Runs this root with prod.tfvars against a mocked AWS provider:
#   tofu test -var-file=prod.tfvars -filter=tests/prod.tftest.hcl
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

# prod.tfvars commits no subscriber (TF_VAR_alert_emails or TF_VAR_alert_https_endpoints at
# plan time): these stand in for them.
variables {
  alert_emails          = ["oncall@example.com"]
  alert_https_endpoints = ["https://events.example.com/integration/0123456789abcdef/enqueue"]
}

# With no subscriber at all, prod must not even plan: every alarm would reach nobody.
run "prod_refuses_to_plan_without_alert_subscriber" {
  command = plan

  variables {
    alert_emails          = []
    alert_https_endpoints = []
  }

  expect_failures = [var.alert_emails]
}

# One kind of subscriber is enough: a pager integration alone, no e-mail.
run "prod_plans_with_a_pager_endpoint_only" {
  command = plan

  variables {
    alert_emails = []
  }
}

run "prod_is_highly_available_and_protected" {
  # Guards the invocation: these assertions are about prod.tfvars, not another environment's.
  assert {
    condition     = var.environment == "prod"
    error_message = "Run with prod.tfvars: tofu test -var-file=prod.tfvars -filter=tests/prod.tftest.hcl"
  }

  assert {
    condition     = output.nat_gateway_count == 3
    error_message = "prod must have one NAT gateway per AZ."
  }

  assert {
    condition     = var.deletion_protection == true
    error_message = "prod must keep deletion protection on EKS and Aurora."
  }

  assert {
    condition     = var.aurora_instance_count >= 3 && var.redis_replicas_per_shard >= 2
    error_message = "prod needs an Aurora instance and a Redis replica in every AZ."
  }

  assert {
    condition     = alltrue([for g in values(var.node_groups) : g.capacity_type == "ON_DEMAND" && g.min_size_per_az >= 1])
    error_message = "prod nodes must be on-demand with at least one per AZ."
  }

  # The validator runs one pod per node (high-availability component): prod's HPA max of 24,
  # plus the canary and the surge pod of a release, must fit on the node groups at their max.
  assert {
    condition     = sum([for g in values(var.node_groups) : g.max_size_per_az * 3]) >= 24 + 2
    error_message = "prod's node groups cannot hold the HPA's 24 validator pods plus a release's canary and surge pod."
  }

  assert {
    condition     = var.log_retention_days >= 365 && var.aurora_backup_retention_days >= 7
    error_message = "prod keeps logs >= 1 year and backups >= 7 days."
  }
}
