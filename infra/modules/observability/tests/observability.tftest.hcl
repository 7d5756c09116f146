mock_provider "aws" {}

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
