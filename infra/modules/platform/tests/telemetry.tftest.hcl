# The telemetry agents' IRSA roles (telemetry.tf): least privilege, asserted on the policy
# documents as written (the mock provider renders no JSON). Provider mocks and inputs as in
# platform.tftest.hcl.
# The whole composition with a mocked AWS provider: checks the wiring between modules and
# the values handed to the kustomize overlays.
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
  mock_resource "aws_iam_service_linked_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" }
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

# The disaster-recovery region (provider aws.dr): backup copies and secret replicas.
mock_provider "aws" {
  alias = "dr"

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
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
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-3333-4444-555555555555", key_id = "66666666-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:eu-west-1:123456789012:backup-vault:mock-dr" }
  }
}

variables {
  environment        = "prod"
  azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  vpc_cidr           = "10.30.0.0/16"
  single_nat_gateway = false
  node_groups = {
    default = {
      instance_types      = ["m7g.xlarge"]
      min_size_per_az     = 1
      max_size_per_az     = 4
      desired_size_per_az = 1
    }
  }
  deletion_protection      = true
  aurora_instance_class    = "db.r7g.xlarge"
  aurora_instance_count    = 3
  redis_node_type          = "cache.r7g.large"
  redis_num_shards         = 2
  redis_replicas_per_shard = 2
  etl_bucket_name          = "tv-test-etl-data"
  audit_bucket_name        = "tv-test-audit"
}

run "fluent_bit_writes_only_its_log_group" {

  assert {
    condition = (
      length(data.aws_iam_policy_document.fluent_bit.statement) == 1 &&
      toset(data.aws_iam_policy_document.fluent_bit.statement[0].actions) == toset(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"])
    )
    error_message = "Fluent Bit may only create streams, put events and describe streams (no CreateLogGroup, no wildcards)."
  }

  assert {
    condition = toset(data.aws_iam_policy_document.fluent_bit.statement[0].resources) == toset([
      module.observability.container_insights_log_group_arns["application"],
      "${module.observability.container_insights_log_group_arns["application"]}:log-stream:*",
    ])
    error_message = "Fluent Bit's policy must name exactly the application log group and its streams."
  }

  assert {
    condition     = alltrue([for r in data.aws_iam_policy_document.fluent_bit.statement[0].resources : !startswith(r, "*") && strcontains(r, ":log-group:")])
    error_message = "No wildcard log groups."
  }
}

run "otel_collector_only_puts_traces" {

  assert {
    condition = (
      length(data.aws_iam_policy_document.otel_collector.statement) == 1 &&
      toset(data.aws_iam_policy_document.otel_collector.statement[0].actions) == toset(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
    )
    error_message = "The collector may only put trace segments and telemetry records."
  }

  assert {
    condition     = output.fluent_bit_role_arn != null && output.otel_collector_role_arn != null && output.application_log_group_name == "/aws/containerinsights/tv-prod/application"
    error_message = "The agents' role ARNs and the log group name must be output for the overlays."
  }
}
