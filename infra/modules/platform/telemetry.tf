# IAM for the in-cluster telemetry agents (kustomize/components/logging and /tracing).
# Each role trusts exactly one service account and can write only where its agent writes.

locals {
  # Fluent Bit ships container logs to the Container Insights "application" log group the
  # observability module creates (KMS, >= 365 days retention); nothing else.
  fluent_bit_log_group_arns = [module.observability.container_insights_log_group_arns["application"]]
}

################################################################################
# Fluent Bit (logging/fluent-bit)
################################################################################

data "aws_iam_policy_document" "fluent_bit" {
  # No logs:CreateLogGroup: the groups exist (Terraform owns their retention and key), and
  # an agent that may create groups could also create ones that never expire.
  statement {
    sid     = "WriteContainerLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    # The group itself (DescribeLogStreams) and its streams (CreateLogStream, PutLogEvents).
    resources = flatten([for arn in local.fluent_bit_log_group_arns : [arn, "${arn}:log-stream:*"]])
  }
}

module "fluent_bit_irsa" {
  source = "../irsa-role"

  name              = "${local.name}-fluent-bit"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_host  = module.eks.oidc_issuer_host
  namespace         = "logging"
  service_account   = "fluent-bit"
  policy_json       = data.aws_iam_policy_document.fluent_bit.json
  tags              = local.tags
}

################################################################################
# OpenTelemetry Collector (tracing/otel-collector) exporting to AWS X-Ray
################################################################################

data "aws_iam_policy_document" "otel_collector" {
  # X-Ray has no resource-level permissions for these actions: "*" is the only resource.
  # Only what the awsxray exporter calls; no sampling-rule reads (sampling is decided in
  # the service, see kustomize/components/tracing/README.md), no reads of traces.
  statement {
    sid       = "PutTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

module "otel_collector_irsa" {
  source = "../irsa-role"

  name              = "${local.name}-otel-collector"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_host  = module.eks.oidc_issuer_host
  namespace         = "tracing"
  service_account   = "otel-collector"
  policy_json       = data.aws_iam_policy_document.otel_collector.json
  tags              = local.tags
}
