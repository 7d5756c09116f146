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
  name                      = "tv-test"
  cluster_name              = "tv-test"
  kms_key_arn               = "arn:aws:kms:eu-central-1:123456789012:key/alerts"
  logs_kms_key_arn          = "arn:aws:kms:eu-central-1:123456789012:key/logs"
  aurora_cluster_identifier = "tv-test"
  redis = {
    replication_group_id = "tv-test"
    num_shards           = 2
    replicas_per_shard   = 2
  }
}

run "alarms_without_alb" {
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.redis_engine_cpu) == 6 && contains(keys(aws_cloudwatch_metric_alarm.redis_memory), "tv-test-0002-003")
    error_message = "Every Redis node (2 shards x 3 nodes) needs its own alarms."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.alb_5xx) == 0 && length(aws_cloudwatch_metric_alarm.alb_latency_p99) == 0
    error_message = "ALB alarms need the ALB's ARN suffix."
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.aurora_cpu, aws_cloudwatch_metric_alarm.aurora_freeable_memory, aws_cloudwatch_metric_alarm.aurora_replica_lag, aws_cloudwatch_metric_alarm.failed_nodes] :
      toset(a.alarm_actions) == toset([aws_sns_topic.alerts.arn])
    ])
    error_message = "Alarms must notify the alert topic."
  }

  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == var.kms_key_arn
    error_message = "The alert topic must be encrypted."
  }

  assert {
    condition     = alltrue([for k, g in aws_cloudwatch_log_group.container_insights : k == "performance" || g.retention_in_days >= 365])
    error_message = "Application, host and data-plane logs must be kept >= 1 year."
  }
}

run "alarms_with_alb" {
  variables {
    alb_arn_suffix = "app/k8s-transact-0123456789/0123456789abcdef"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.alb_5xx) == 2 && aws_cloudwatch_metric_alarm.alb_latency_p99[0].extended_statistic == "p99"
    error_message = "ALB 5xx (ELB and target) and p99 latency alarms are required once the ALB exists."
  }
}

run "rejects_short_log_retention" {
  command = plan

  variables {
    log_retention_days = 30
  }

  expect_failures = [var.log_retention_days]
}

# Every alarm, with the ALB ones: a description that ends in a link to its runbook section,
# and the alert topic as the target of ALARM and OK. The list is every
# aws_cloudwatch_metric_alarm in main.tf; the count check ties it to the alarm_names output.
run "every_alarm_has_runbook_and_topic" {
  variables {
    alb_arn_suffix   = "app/k8s-transact-0123456789/0123456789abcdef"
    runbook_base_url = "https://git.example.com/payments/transaction-validator/blob/v1.2.3"
  }

  assert {
    condition = alltrue([
      for a in concat(
        [
          aws_cloudwatch_metric_alarm.aurora_cpu, aws_cloudwatch_metric_alarm.aurora_freeable_memory,
          aws_cloudwatch_metric_alarm.aurora_replica_lag, aws_cloudwatch_metric_alarm.aurora_connections,
          aws_cloudwatch_metric_alarm.failed_nodes, aws_cloudwatch_metric_alarm.node_cpu,
        ],
        values(aws_cloudwatch_metric_alarm.redis_engine_cpu), values(aws_cloudwatch_metric_alarm.redis_memory),
        values(aws_cloudwatch_metric_alarm.redis_evictions), values(aws_cloudwatch_metric_alarm.alb_5xx),
        aws_cloudwatch_metric_alarm.alb_latency_p99,
      ) :
      can(regex("Runbook: https://git[.]example[.]com/payments/transaction-validator/blob/v1[.]2[.]3/docs/runbook[.]md#[a-z0-9-]+$", a.alarm_description))
    ])
    error_message = "Every alarm description must end with a link to its docs/runbook.md section under runbook_base_url."
  }

  assert {
    condition = alltrue([
      for a in concat(
        [
          aws_cloudwatch_metric_alarm.aurora_cpu, aws_cloudwatch_metric_alarm.aurora_freeable_memory,
          aws_cloudwatch_metric_alarm.aurora_replica_lag, aws_cloudwatch_metric_alarm.aurora_connections,
          aws_cloudwatch_metric_alarm.failed_nodes, aws_cloudwatch_metric_alarm.node_cpu,
        ],
        values(aws_cloudwatch_metric_alarm.redis_engine_cpu), values(aws_cloudwatch_metric_alarm.redis_memory),
        values(aws_cloudwatch_metric_alarm.redis_evictions), values(aws_cloudwatch_metric_alarm.alb_5xx),
        aws_cloudwatch_metric_alarm.alb_latency_p99,
      ) :
      toset(a.alarm_actions) == toset([aws_sns_topic.alerts.arn]) && toset(a.ok_actions) == toset([aws_sns_topic.alerts.arn])
    ])
    error_message = "Every alarm must notify the alert topic on ALARM and OK."
  }

  # 6 single alarms + 6 Redis nodes x 3 + 2 ALB 5xx + 1 ALB latency. An alarm added to
  # main.tf without being added above (and to alarm_names) breaks this count.
  assert {
    condition     = length(output.alarm_names) == 6 + 6 * 3 + 2 + 1
    error_message = "alarm_names must list every alarm, and the lists above must cover them all."
  }
}

run "rejects_runbook_url_with_trailing_slash" {
  command = plan

  variables {
    runbook_base_url = "https://github.com/transaction-validator/transaction-validator/blob/main/"
  }

  expect_failures = [var.runbook_base_url]
}
