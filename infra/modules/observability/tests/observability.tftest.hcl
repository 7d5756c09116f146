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

# The ALB does not exist at the first apply and its ARN suffix is not known before: the ALB
# alarms must exist anyway, as Metrics Insights queries over the account's ALB metrics.
run "alb_alarms_need_no_arn_suffix" {
  command = plan

  assert {
    condition = toset([for q in aws_cloudwatch_metric_alarm.alb_5xx_ratio.metric_query : q.expression if !q.return_data]) == toset([
      "SELECT SUM(RequestCount) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)",
      "SELECT SUM(HTTPCode_ELB_5XX_Count) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)",
      "SELECT SUM(HTTPCode_Target_5XX_Count) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)",
    ])
    error_message = "Without alb_arn_suffix the 5xx alarm must query requests, ELB 5xx and target 5xx of the account's ALBs."
  }

  # The ratio of ELB + target 5xx to requests, in percent, only above the minimum request
  # count: an absolute count pages on noise at low traffic and too late at high traffic.
  assert {
    condition = [for q in aws_cloudwatch_metric_alarm.alb_5xx_ratio.metric_query : q.expression if q.return_data] == [
      "IF(requests >= 30, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)"
    ] && aws_cloudwatch_metric_alarm.alb_5xx_ratio.threshold == 1 && aws_cloudwatch_metric_alarm.alb_5xx_ratio.comparison_operator == "GreaterThanThreshold"
    error_message = "The 5xx alarm must be the 5xx percentage of requests, evaluated only from the minimum request count."
  }

  assert {
    condition = [for q in aws_cloudwatch_metric_alarm.alb_latency.metric_query : q.expression] == [
      "SELECT AVG(TargetResponseTime) FROM SCHEMA(\"AWS/ApplicationELB\", LoadBalancer)"
    ] && aws_cloudwatch_metric_alarm.alb_latency.threshold == 0.2
    error_message = "The latency alarm must watch the account's ALB target response time without an ARN suffix."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.alb_5xx_ratio.treat_missing_data == "notBreaching" && aws_cloudwatch_metric_alarm.alb_latency.treat_missing_data == "notBreaching"
    error_message = "Before the ALB exists (no data) the ALB alarms must not be in ALARM."
  }
}

run "alb_alarms_narrowed_to_one_alb" {
  command = plan

  variables {
    alb_arn_suffix                  = "app/tv-test/0123456789abcdef"
    alb_5xx_ratio_percent           = 2.5
    alb_5xx_min_requests_per_minute = 100
  }

  assert {
    condition = alltrue([
      for q in concat(tolist(aws_cloudwatch_metric_alarm.alb_5xx_ratio.metric_query), tolist(aws_cloudwatch_metric_alarm.alb_latency.metric_query)) :
      endswith(q.expression, " WHERE LoadBalancer = 'app/tv-test/0123456789abcdef'") if startswith(q.expression, "SELECT")
    ])
    error_message = "With alb_arn_suffix every ALB query must be narrowed to that load balancer."
  }

  assert {
    condition     = contains([for q in aws_cloudwatch_metric_alarm.alb_5xx_ratio.metric_query : q.expression], "IF(requests >= 100, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)") && aws_cloudwatch_metric_alarm.alb_5xx_ratio.threshold == 2.5
    error_message = "The ratio alarm must use the configured minimum request count and percentage."
  }
}

# The ETL's metrics come from its EMF summary line (svc/internal/fxrates/job.go): namespace
# TransactionValidator/FxRatesEtl, metric RunSucceeded/RatesStale, dimension Outcome.
run "etl_alarms" {
  command = plan

  assert {
    condition = toset([
      for q in aws_cloudwatch_metric_alarm.etl_run_failed.metric_query : "${q.id}:${q.metric[0].namespace}:${q.metric[0].metric_name}:${q.metric[0].dimensions["Outcome"]}:${q.metric[0].stat}" if !q.return_data
      ]) == toset([
      "rejected:TransactionValidator/FxRatesEtl:RunSucceeded:rejected:SampleCount",
      "failed:TransactionValidator/FxRatesEtl:RunSucceeded:failed:SampleCount",
    ])
    error_message = "The failed-run alarm must count the ETL's rejected and failed runs."
  }

  assert {
    condition = [for q in aws_cloudwatch_metric_alarm.etl_run_failed.metric_query : q.expression if q.return_data] == [
      "IF(FILL(rejected, 0) >= 1 OR FILL(failed, 0) >= 3, 1, 0)"
    ] && aws_cloudwatch_metric_alarm.etl_run_failed.threshold == 1
    error_message = "One rejected run, or a failure of all backoffLimit + 1 attempts, must page; a retried transient failure must not."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.etl_rates_stale.namespace == "TransactionValidator/FxRatesEtl" &&
      aws_cloudwatch_metric_alarm.etl_rates_stale.metric_name == "RatesStale" &&
      aws_cloudwatch_metric_alarm.etl_rates_stale.dimensions["Outcome"] == "stale" && length(aws_cloudwatch_metric_alarm.etl_rates_stale.dimensions) == 1 &&
      aws_cloudwatch_metric_alarm.etl_rates_stale.threshold == 1
    )
    error_message = "A run that ended stale (exit 5) must page."
  }

  # Missing data is a missing run; the window spans a weekend (weekday schedule).
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.etl_run_missing.treat_missing_data == "breaching" &&
      aws_cloudwatch_metric_alarm.etl_run_missing.evaluation_periods == 76 &&
      aws_cloudwatch_metric_alarm.etl_run_missing.datapoints_to_alarm == 76 &&
      toset([for q in aws_cloudwatch_metric_alarm.etl_run_missing.metric_query : q.metric[0].dimensions["Outcome"] if !q.return_data]) == toset(["written", "unchanged"]) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.etl_run_missing.metric_query : q.metric[0].period == 3600 if !q.return_data])
    )
    error_message = "No successful (written or unchanged) run for 76 hourly periods, missing data included, must page."
  }
}

run "rejects_etl_window_shorter_than_a_weekend" {
  command = plan

  variables {
    etl_max_hours_without_success = 26
  }

  expect_failures = [var.etl_max_hours_without_success]
}

# What the Fluent Bit Lua filter marks (kustomize/components/logging/redact-pan.lua) is
# counted in the log group it ships to, and pages.
run "pan_redacted_alarm" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_log_metric_filter.pan_redacted.log_group_name == "/aws/containerinsights/tv-test/application" &&
      aws_cloudwatch_log_metric_filter.pan_redacted.pattern == "{ $.pan_redacted IS TRUE }" &&
      aws_cloudwatch_log_metric_filter.pan_redacted.metric_transformation[0].value == "1"
    )
    error_message = "Records the Lua filter marked pan_redacted in the application log group must be counted."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.pan_redacted.metric_name == aws_cloudwatch_log_metric_filter.pan_redacted.metric_transformation[0].name &&
      aws_cloudwatch_metric_alarm.pan_redacted.namespace == aws_cloudwatch_log_metric_filter.pan_redacted.metric_transformation[0].namespace &&
      aws_cloudwatch_metric_alarm.pan_redacted.statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.pan_redacted.threshold == 0 &&
      aws_cloudwatch_metric_alarm.pan_redacted.comparison_operator == "GreaterThanThreshold"
    )
    error_message = "Any redacted record must page, on the metric the filter publishes."
  }
}

run "alert_subscriptions" {
  command = plan

  variables {
    alert_emails          = ["oncall@example.com"]
    alert_https_endpoints = ["https://events.example.com/integration/0123456789abcdef/enqueue"]
  }

  assert {
    condition     = aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email"
    error_message = "Every alert e-mail address must be subscribed."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.https) == 1 && aws_sns_topic_subscription.https[0].protocol == "https" && aws_sns_topic_subscription.https[0].topic_arn == aws_sns_topic.alerts.arn
    error_message = "Every HTTPS endpoint (pager, chat) must be subscribed to the alert topic."
  }
}

run "rejects_plain_http_endpoint" {
  command = plan

  variables {
    alert_https_endpoints = ["http://events.example.com/enqueue"]
  }

  expect_failures = [var.alert_https_endpoints]
}

run "rejects_short_log_retention" {
  command = plan

  variables {
    log_retention_days = 30
  }

  expect_failures = [var.log_retention_days]
}

# Every alarm: a description that ends in a link to its runbook section, and the alert
# topic as the target of ALARM and OK. The list is every aws_cloudwatch_metric_alarm in
# main.tf; the count check ties it to the alarm_names output.
run "every_alarm_has_runbook_and_topic" {
  variables {
    runbook_base_url = "https://git.example.com/payments/transaction-validator/blob/v1.2.3"
  }

  assert {
    condition = alltrue([
      for a in concat(
        [
          aws_cloudwatch_metric_alarm.aurora_cpu, aws_cloudwatch_metric_alarm.aurora_freeable_memory,
          aws_cloudwatch_metric_alarm.aurora_replica_lag, aws_cloudwatch_metric_alarm.aurora_connections,
          aws_cloudwatch_metric_alarm.failed_nodes, aws_cloudwatch_metric_alarm.node_cpu,
          aws_cloudwatch_metric_alarm.alb_5xx_ratio, aws_cloudwatch_metric_alarm.alb_latency,
          aws_cloudwatch_metric_alarm.etl_run_failed, aws_cloudwatch_metric_alarm.etl_rates_stale,
          aws_cloudwatch_metric_alarm.etl_run_missing, aws_cloudwatch_metric_alarm.pan_redacted,
        ],
        values(aws_cloudwatch_metric_alarm.redis_engine_cpu), values(aws_cloudwatch_metric_alarm.redis_memory),
        values(aws_cloudwatch_metric_alarm.redis_evictions),
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
          aws_cloudwatch_metric_alarm.alb_5xx_ratio, aws_cloudwatch_metric_alarm.alb_latency,
          aws_cloudwatch_metric_alarm.etl_run_failed, aws_cloudwatch_metric_alarm.etl_rates_stale,
          aws_cloudwatch_metric_alarm.etl_run_missing, aws_cloudwatch_metric_alarm.pan_redacted,
        ],
        values(aws_cloudwatch_metric_alarm.redis_engine_cpu), values(aws_cloudwatch_metric_alarm.redis_memory),
        values(aws_cloudwatch_metric_alarm.redis_evictions),
      ) :
      toset(a.alarm_actions) == toset([aws_sns_topic.alerts.arn]) && toset(a.ok_actions) == toset([aws_sns_topic.alerts.arn])
    ])
    error_message = "Every alarm must notify the alert topic on ALARM and OK."
  }

  # 12 single alarms + 6 Redis nodes x 3. An alarm added to main.tf without being added
  # above (and to alarm_names) breaks this count.
  assert {
    condition     = length(output.alarm_names) == 12 + 6 * 3
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
