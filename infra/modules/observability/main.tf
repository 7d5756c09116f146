locals {
  alarm_actions = [aws_sns_topic.alerts.arn]

  # One runbook section per alarm family. The literal runbook paths with their anchors are
  # what suite 05 resolves against docs/runbook.md; var.runbook_base_url says where the
  # repository is browsed (and at which ref).
  runbook = {
    alb_5xx            = "${var.runbook_base_url}/docs/runbook.md#alb-5xx"
    alb_latency        = "${var.runbook_base_url}/docs/runbook.md#alb-latency"
    aurora_cpu         = "${var.runbook_base_url}/docs/runbook.md#aurora-cpu"
    aurora_memory      = "${var.runbook_base_url}/docs/runbook.md#aurora-memory"
    aurora_connections = "${var.runbook_base_url}/docs/runbook.md#aurora-connections"
    aurora_replica_lag = "${var.runbook_base_url}/docs/runbook.md#aurora-replica-lag"
    redis_cpu          = "${var.runbook_base_url}/docs/runbook.md#redis-cpu"
    redis_memory       = "${var.runbook_base_url}/docs/runbook.md#redis-memory"
    redis_evictions    = "${var.runbook_base_url}/docs/runbook.md#redis-evictions"
    node_health        = "${var.runbook_base_url}/docs/runbook.md#eks-node-health"
  }

  # Cluster-mode member clusters are named <group>-<shard:4>-<node:3> by ElastiCache, so
  # their IDs are known before apply and every node gets its own alarms.
  redis_nodes = var.redis == null ? [] : flatten([
    for shard in range(1, var.redis.num_shards + 1) : [
      for node in range(1, var.redis.replicas_per_shard + 2) :
      format("%s-%04d-%03d", var.redis.replication_group_id, shard, node)
    ]
  ])
}

################################################################################
# Alert fan-out
################################################################################

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# Log groups written by in-cluster agents (Container Insights / Fluent Bit). Created here
# so that they have a retention and a KMS key instead of the agents' never-expiring default.
################################################################################

resource "aws_cloudwatch_log_group" "container_insights" {
  for_each = toset(["application", "dataplane", "host", "performance"])

  name              = "/aws/containerinsights/${var.cluster_name}/${each.value}"
  retention_in_days = each.value == "performance" ? var.metrics_log_retention_days : var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

################################################################################
# Aurora
################################################################################

resource "aws_cloudwatch_metric_alarm" "aurora_cpu" {
  alarm_name          = "${var.name}-aurora-cpu-high"
  alarm_description   = "Aurora writer/readers above ${var.aurora_cpu_threshold}% CPU for 15 minutes: scale up the instance class or add readers. Runbook: ${local.runbook.aurora_cpu}"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.aurora_cpu_threshold
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "aurora_freeable_memory" {
  alarm_name          = "${var.name}-aurora-freeable-memory-low"
  alarm_description   = "Aurora freeable memory under 256 MiB: the instance is about to swap or be OOM-killed. Runbook: ${local.runbook.aurora_memory}"
  namespace           = "AWS/RDS"
  metric_name         = "FreeableMemory"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 268435456
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "aurora_replica_lag" {
  alarm_name          = "${var.name}-aurora-replica-lag-high"
  alarm_description   = "Aurora replica lag above 1 s: a failover now would lose the most recent validations from readers' view. Runbook: ${local.runbook.aurora_replica_lag}"
  namespace           = "AWS/RDS"
  metric_name         = "AuroraReplicaLagMaximum"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 1000
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "aurora_connections" {
  alarm_name          = "${var.name}-aurora-connections-high"
  alarm_description   = "Aurora DatabaseConnections above ${var.aurora_connections_threshold} for 10 minutes: the pools of all clients together are near max_connections, new connections will be refused. Runbook: ${local.runbook.aurora_connections}"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.aurora_connections_threshold
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

################################################################################
# Redis, per node
################################################################################

resource "aws_cloudwatch_metric_alarm" "redis_engine_cpu" {
  for_each = toset(local.redis_nodes)

  alarm_name          = "${var.name}-redis-${each.value}-engine-cpu-high"
  alarm_description   = "Redis main thread of ${each.value} above 80% for 15 minutes: add shards. Runbook: ${local.runbook.redis_cpu}"
  namespace           = "AWS/ElastiCache"
  metric_name         = "EngineCPUUtilization"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each = toset(local.redis_nodes)

  alarm_name          = "${var.name}-redis-${each.value}-memory-high"
  alarm_description   = "Redis ${each.value} above 80% of maxmemory: evictions of live sessions are near. Runbook: ${local.runbook.redis_memory}"
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# Evictions drop idempotency keys and rate-limit buckets before they expire: a retried
# request could then be validated twice. Any eviction is worth a look.
resource "aws_cloudwatch_metric_alarm" "redis_evictions" {
  for_each = toset(local.redis_nodes)

  alarm_name          = "${var.name}-redis-${each.value}-evictions"
  alarm_description   = "Redis ${each.value} evicted keys in the last 5 minutes: idempotency keys may be gone before their TTL. Runbook: ${local.runbook.redis_evictions}"
  namespace           = "AWS/ElastiCache"
  metric_name         = "Evictions"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

################################################################################
# ALB (created by the AWS Load Balancer Controller from the Ingress)
################################################################################

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  for_each = var.alb_arn_suffix == null ? {} : {
    elb    = "HTTPCode_ELB_5XX_Count"
    target = "HTTPCode_Target_5XX_Count"
  }

  alarm_name          = "${var.name}-alb-${each.key}-5xx"
  alarm_description   = "More than ${var.alb_5xx_threshold} ${each.value} per minute for 3 minutes on the transaction-validator ALB. Runbook: ${local.runbook.alb_5xx}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_threshold
  treat_missing_data  = "notBreaching" # no requests means no errors
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_latency_p99" {
  count = var.alb_arn_suffix == null ? 0 : 1

  alarm_name          = "${var.name}-alb-latency-p99-high"
  alarm_description   = "p99 target response time above ${var.alb_p99_latency_seconds} s for 5 minutes. Runbook: ${local.runbook.alb_latency}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_p99_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

################################################################################
# Node health (Container Insights metrics from the amazon-cloudwatch-observability add-on)
################################################################################

resource "aws_cloudwatch_metric_alarm" "failed_nodes" {
  alarm_name          = "${var.name}-eks-failed-nodes"
  alarm_description   = "At least one EKS node is NotReady for 5 minutes (node auto-repair should replace it). Runbook: ${local.runbook.node_health}"
  namespace           = "ContainerInsights"
  metric_name         = "cluster_failed_node_count"
  dimensions          = { ClusterName = var.cluster_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # Missing data means the agent itself is gone: that is worth a page too.
  treat_missing_data        = "breaching"
  alarm_actions             = local.alarm_actions
  ok_actions                = local.alarm_actions
  insufficient_data_actions = local.alarm_actions
  tags                      = var.tags
}

resource "aws_cloudwatch_metric_alarm" "node_cpu" {
  alarm_name          = "${var.name}-eks-node-cpu-high"
  alarm_description   = "Average node CPU above 80% for 15 minutes: the cluster autoscaler is not keeping up (max_size reached?). Runbook: ${local.runbook.node_health}"
  namespace           = "ContainerInsights"
  metric_name         = "node_cpu_utilization"
  dimensions          = { ClusterName = var.cluster_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
