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
  name                     = "tv-test"
  rate_limit_per_5_minutes = 1500
  logs_kms_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/logs"
}

run "managed_rules_and_rate_limit" {
  assert {
    # HCL's && does not short-circuit: try() turns "this rule has no such block" into false.
    condition = anytrue([
      for r in aws_wafv2_web_acl.this.rule : try(
        length(r.action[0].block) == 1 &&
        r.statement[0].rate_based_statement[0].limit == 1500 &&
        r.statement[0].rate_based_statement[0].aggregate_key_type == "IP",
        false
      )
    ])
    error_message = "A blocking per-IP rate-based rule with the configured limit is required."
  }

  assert {
    condition = length(setsubtract(
      ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAmazonIpReputationList"],
      flatten([for r in aws_wafv2_web_acl.this.rule : [for m in r.statement[0].managed_rule_group_statement : m.name]])
    )) == 0
    error_message = "The AWS managed rule groups must all be enabled."
  }

  assert {
    condition     = aws_wafv2_web_acl.this.scope == "REGIONAL"
    error_message = "An ALB needs a REGIONAL web ACL."
  }

  assert {
    condition     = startswith(aws_cloudwatch_log_group.this.name, "aws-waf-logs-") && aws_cloudwatch_log_group.this.retention_in_days >= 365
    error_message = "WAF logs must go to an aws-waf-logs-* group kept >= 1 year."
  }

  assert {
    condition     = toset(aws_wafv2_web_acl_logging_configuration.this.log_destination_configs) == toset([aws_cloudwatch_log_group.this.arn])
    error_message = "WAF logging must be enabled."
  }
}

# One payment gateway's NAT address must be able to send at least the service-wide
# admission limit of dev and staging (kustomize/overlays: 300 and 800 req/s) before WAF
# cuts it off; the service's 429s, not WAF, are the business limit.
run "default_limit_is_a_flood_guard_not_the_business_limit" {
  command = plan

  variables {
    rate_limit_per_5_minutes = null
  }

  assert {
    condition = anytrue([
      for r in aws_wafv2_web_acl.this.rule :
      try(r.statement[0].rate_based_statement[0].limit / 300 >= 800, false)
    ])
    error_message = "The default per-IP limit must allow one client at least 800 req/s (staging's service-wide limit)."
  }
}

run "rejects_limit_above_the_wafv2_maximum" {
  command = plan

  variables {
    rate_limit_per_5_minutes = 3000000000
  }

  expect_failures = [var.rate_limit_per_5_minutes]
}
