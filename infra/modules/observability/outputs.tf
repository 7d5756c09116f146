output "alerts_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = aws_sns_topic.alerts.arn
}

output "container_insights_log_groups" {
  description = "Container Insights log groups keyed by type (application, dataplane, host, performance)."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => g.name }
}

output "alarm_names" {
  description = "Names of all alarms created."
  value = concat(
    [
      aws_cloudwatch_metric_alarm.aurora_cpu.alarm_name,
      aws_cloudwatch_metric_alarm.aurora_freeable_memory.alarm_name,
      aws_cloudwatch_metric_alarm.aurora_replica_lag.alarm_name,
      aws_cloudwatch_metric_alarm.aurora_connections.alarm_name,
      aws_cloudwatch_metric_alarm.failed_nodes.alarm_name,
      aws_cloudwatch_metric_alarm.node_cpu.alarm_name,
      aws_cloudwatch_metric_alarm.alb_5xx_ratio.alarm_name,
      aws_cloudwatch_metric_alarm.alb_latency.alarm_name,
      aws_cloudwatch_metric_alarm.etl_run_failed.alarm_name,
      aws_cloudwatch_metric_alarm.etl_rates_stale.alarm_name,
      aws_cloudwatch_metric_alarm.etl_run_missing.alarm_name,
      aws_cloudwatch_metric_alarm.pan_redacted.alarm_name,
    ],
    [for a in aws_cloudwatch_metric_alarm.redis_engine_cpu : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_memory : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_evictions : a.alarm_name],
  )
}

output "container_insights_log_group_arns" {
  description = "ARNs of the Container Insights log groups keyed by type (for the log agents' IAM policies)."
  value       = { for k, g in aws_cloudwatch_log_group.container_insights : k => g.arn }
}
