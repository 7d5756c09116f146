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
    etl_failed         = "${var.runbook_base_url}/docs/runbook.md#fx-rates-etl-failed"
    etl_stale          = "${var.runbook_base_url}/docs/runbook.md#fx-rates-stale"
    etl_missing        = "${var.runbook_base_url}/docs/runbook.md#fx-rates-etl-missing"
    pan_redacted       = "${var.runbook_base_url}/docs/runbook.md#card-number-in-logs"
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

# Chat and paging tools (PagerDuty, Opsgenie, incident.io, a chat bridge) take SNS
# notifications on an HTTPS endpoint that confirms the subscription itself. Their URLs
# carry a token, so the list is sensitive: count, not for_each, keeps the URLs out of the
# resource addresses.
resource "aws_sns_topic_subscription" "https" {
  count = nonsensitive(length(var.alert_https_endpoints))

  topic_arn              = aws_sns_topic.alerts.arn
  protocol               = "https"
  endpoint               = var.alert_https_endpoints[count.index]
  endpoint_auto_confirms = true
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
#
# The ALB does not exist at the first apply, and its ARN suffix (app/<name>/<id>) carries an
# id only AWS knows once the controller has created it. So the ALB alarms do not name it:
# they are Metrics Insights queries over the load-balancer-level metrics of AWS/ApplicationELB
# in this account and region, which hold exactly one ALB, the IngressGroup's (one account per
# environment, see infra/envs/README.md; the console shares that ALB). They exist from the
# first apply, sit in OK (missing data is not breaching) until the ALB serves traffic, and
# follow the ALB if the controller ever replaces it. alb_arn_suffix narrows them to one ALB,
# for an account that holds others.
################################################################################

locals {
  alb_where = var.alb_arn_suffix == null ? "" : " WHERE LoadBalancer = '${var.alb_arn_suffix}'"
  alb_query = { for m in ["RequestCount", "HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"] :
    m => "SELECT SUM(${m}) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)${local.alb_where}"
  }
}

# A ratio, not a count: 5 errors a minute is an outage at 10 requests and noise at 10,000.
# Below alb_5xx_min_requests_per_minute the ratio is not evaluated (a single 503 of a
# probe would otherwise be 100%). ELB 5xx (no healthy target, refused or timed-out target
# connections) and target 5xx (the pods' own answers) count together: either way the
# client got a 5xx.
resource "aws_cloudwatch_metric_alarm" "alb_5xx_ratio" {
  alarm_name          = "${var.name}-alb-5xx-ratio-high"
  alarm_description   = "More than ${var.alb_5xx_ratio_percent}% of the ALB's requests answered 5xx (ELB and target) in 3 of 5 minutes with at least ${var.alb_5xx_min_requests_per_minute} requests a minute. Runbook: ${local.runbook.alb_5xx}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_ratio_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching" # no ALB or no requests: nothing failed

  metric_query {
    id          = "requests"
    expression  = local.alb_query["RequestCount"]
    period      = 60
    return_data = false
  }
  metric_query {
    id          = "elb5xx"
    expression  = local.alb_query["HTTPCode_ELB_5XX_Count"]
    period      = 60
    return_data = false
  }
  metric_query {
    id          = "target5xx"
    expression  = local.alb_query["HTTPCode_Target_5XX_Count"]
    period      = 60
    return_data = false
  }
  metric_query {
    id          = "ratio"
    label       = "5xx % of requests"
    expression  = "IF(requests >= ${var.alb_5xx_min_requests_per_minute}, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)"
    return_data = true
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# Metrics Insights aggregates with AVG, MIN, MAX, SUM and COUNT only, so this is the
# average target response time; the p99 is the service's own histogram
# (TransactionValidatorLatencyHigh in kustomize/components/observability).
resource "aws_cloudwatch_metric_alarm" "alb_latency" {
  alarm_name          = "${var.name}-alb-latency-high"
  alarm_description   = "Average ALB target response time above ${var.alb_average_latency_seconds} s for 5 minutes. Runbook: ${local.runbook.alb_latency}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_average_latency_seconds
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "latency"
    label       = "average target response time (s)"
    expression  = "SELECT AVG(TargetResponseTime) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)${local.alb_where}"
    period      = 60
    return_data = true
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
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

################################################################################
# FX-rates ETL (svc/cmd/fx-rates-etl, a CronJob on weekdays)
#
# Each run ends with one JSON log line in CloudWatch Embedded Metric Format
# (svc/internal/fxrates/job.go, emit). Fluent Bit ships it to the application log group
# above (the Lua PAN filter leaves the _aws block's numbers alone), and CloudWatch Logs
# extracts RunSucceeded, RatesStale, ... in var.etl_metric_namespace with the dimension
# Outcome: written or unchanged (success), failed (exit 1, retried by a new pod), rejected
# (exit 4, invalid data, not retried) or stale (exit 5, the day's rates never came).
################################################################################

locals {
  etl_metric = {
    for outcome in ["written", "unchanged", "failed", "rejected", "stale"] : outcome => {
      metric_name = "RunSucceeded"
      namespace   = var.etl_metric_namespace
      dimensions  = { Outcome = outcome }
    }
  }
}

# A run that failed for good: rejected data (podFailurePolicy fails the Job at once) or a
# failure on every one of the Job's pods (backoffLimit + 1 attempts in the Job's hour). A
# transient failure that a retry repairs does not page.
resource "aws_cloudwatch_metric_alarm" "etl_run_failed" {
  alarm_name          = "${var.name}-fx-rates-etl-run-failed"
  alarm_description   = "The FX-rates ETL rejected the source's data, or all ${var.etl_attempts} attempts of a run failed: today's rates were not published. Runbook: ${local.runbook.etl_failed}"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching" # no run ended in this window

  dynamic "metric_query" {
    for_each = { rejected = local.etl_metric.rejected, failed = local.etl_metric.failed }
    content {
      id          = metric_query.key
      return_data = false
      metric {
        metric_name = metric_query.value.metric_name
        namespace   = metric_query.value.namespace
        dimensions  = metric_query.value.dimensions
        period      = 7200 # the Job's activeDeadlineSeconds (1 h) with room for its start
        stat        = "SampleCount"
      }
    }
  }
  metric_query {
    id          = "failed_for_good"
    label       = "runs failed for good"
    expression  = "IF(FILL(rejected, 0) >= 1 OR FILL(failed, 0) >= ${var.etl_attempts}, 1, 0)"
    return_data = true
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# The run ended stale (exit 5): the source still carried the previous business day's rates
# when the run's late window closed. Consumers keep yesterday's rates.
resource "aws_cloudwatch_metric_alarm" "etl_rates_stale" {
  alarm_name          = "${var.name}-fx-rates-etl-rates-stale"
  alarm_description   = "The FX-rates ETL ended stale: the ECB had not published the due business day's rates by the end of the run's late window. Runbook: ${local.runbook.etl_stale}"
  namespace           = var.etl_metric_namespace
  metric_name         = "RatesStale"
  dimensions          = { Outcome = "stale" }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# No successful run (written or unchanged) for etl_max_hours_without_success hours: the
# CronJob is suspended or not scheduled, its pods never start (image, quota, IRSA), they
# die before the summary line (OOM, deadline), or the line never reaches CloudWatch. The
# job runs on weekdays only, so the window must span a weekend (Friday's run to Monday's:
# 72 h); failures of a run that does start are paged sooner by etl_run_failed.
resource "aws_cloudwatch_metric_alarm" "etl_run_missing" {
  alarm_name          = "${var.name}-fx-rates-etl-no-successful-run"
  alarm_description   = "No successful FX-rates ETL run for ${var.etl_max_hours_without_success} hours. Runbook: ${local.runbook.etl_missing}"
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = var.etl_max_hours_without_success
  datapoints_to_alarm = var.etl_max_hours_without_success
  # An hour without any data is an hour without a successful run.
  treat_missing_data = "breaching"

  dynamic "metric_query" {
    for_each = { written = local.etl_metric.written, unchanged = local.etl_metric.unchanged }
    content {
      id          = metric_query.key
      return_data = false
      metric {
        metric_name = metric_query.value.metric_name
        namespace   = metric_query.value.namespace
        dimensions  = metric_query.value.dimensions
        period      = 3600
        stat        = "SampleCount"
      }
    }
  }
  metric_query {
    id          = "successes"
    label       = "successful runs"
    expression  = "FILL(written, 0) + FILL(unchanged, 0)"
    return_data = true
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

################################################################################
# Card numbers in logs
#
# The Fluent Bit Lua filter (kustomize/components/logging/redact-pan.lua) replaces what
# looks like a PAN and marks the record "pan_redacted": true. The redaction kept the card
# number out of CloudWatch, but something printed it: this counts such records and pages.
################################################################################

resource "aws_cloudwatch_log_metric_filter" "pan_redacted" {
  name           = "${var.name}-pan-redacted"
  log_group_name = aws_cloudwatch_log_group.container_insights["application"].name
  pattern        = "{ $.pan_redacted IS TRUE }"

  metric_transformation {
    name      = "PanRedactedRecords"
    namespace = var.logs_metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "pan_redacted" {
  alarm_name          = "${var.name}-pan-redacted-in-logs"
  alarm_description   = "A workload printed something that looks like a card number: Fluent Bit redacted it before CloudWatch. Find and fix the source. Runbook: ${local.runbook.pan_redacted}"
  namespace           = var.logs_metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.pan_redacted.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # the filter publishes only when a record matches
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
