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
    defaults = { id = "mock-bucket", arn = "arn:aws:s3:::mock-bucket" }
  }
  # As in AWS, a bucket policy's id is its bucket's name.
  mock_resource "aws_s3_bucket_policy" {
    defaults = { id = "mock-bucket" }
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
  name        = "tv-test-etl"
  kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/data"
}

run "private_versioned_kms_encrypted" {
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "All four public-access blocks must be on."
  }

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "The bucket must be versioned."
  }

  assert {
    condition = anytrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule :
      anytrue([for d in r.apply_server_side_encryption_by_default : d.sse_algorithm == "aws:kms" && d.kms_master_key_id == var.kms_key_arn])
    ])
    error_message = "Default encryption must be SSE-KMS with the customer-managed key."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.effect == "Deny" && anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])])
    ])
    error_message = "The bucket policy must deny requests without TLS."
  }

  assert {
    condition     = aws_s3_bucket_logging.this.target_bucket == aws_s3_bucket.access_logs.id
    error_message = "Server access logging must go to the access-log bucket."
  }

  assert {
    condition     = aws_s3_bucket_public_access_block.access_logs.block_public_policy && aws_s3_bucket_versioning.access_logs.versioning_configuration[0].status == "Enabled"
    error_message = "The access-log bucket must be private and versioned too."
  }
}

run "rejects_short_access_log_retention" {
  command = plan

  variables {
    access_log_retention_days = 30
  }

  expect_failures = [var.access_log_retention_days]
}

# Uploads that rely on the bucket's default encryption (the S3 backend with `encrypt = true`
# and no `kms_key_id`, the fx-rates-etl's PutObject) send no encryption headers; a deny
# that matches a missing header refuses every one of them. Each condition of a Deny on an
# encryption header must therefore be paired with `Null = false` on that same header, and
# no `...IfExists` operator may appear (it is true when the key is absent).
run "default_encryption_uploads_are_not_denied" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [
        for c in s.condition :
        anytrue([for n in s.condition : n.test == "Null" && n.variable == c.variable && toset(n.values) == toset(["false"])])
        if startswith(c.variable, "s3:x-amz-server-side-encryption")
      ] if s.effect == "Deny"
    ]))
    error_message = "A Deny on an encryption header must also require the header to be present (Null = false), or default-encrypted uploads are refused."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [for c in s.condition : !endswith(c.test, "IfExists")]
    ]))
    error_message = "No ...IfExists operator in the bucket policy: it matches requests that lack the key."
  }
}

# ...while an upload that names another key or another algorithm is still refused.
run "other_keys_and_algorithms_are_denied" {
  command = plan

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.effect == "Deny" && contains(s.actions, "s3:PutObject") && anytrue([
        for c in s.condition :
        c.test == "StringNotEquals" && c.variable == "s3:x-amz-server-side-encryption-aws-kms-key-id" && toset(c.values) == toset([var.kms_key_arn])
      ])
    ])
    error_message = "Uploads naming a KMS key other than the bucket's must be denied."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.effect == "Deny" && contains(s.actions, "s3:PutObject") && anytrue([
        for c in s.condition :
        c.test == "StringNotEquals" && c.variable == "s3:x-amz-server-side-encryption" && toset(c.values) == toset(["aws:kms"])
      ])
    ])
    error_message = "Uploads naming SSE-S3 or DSSE-KMS must be denied."
  }
}

# S3 refuses to switch logging on until the target bucket's policy admits logging.s3: the
# logging configuration must be created after that policy. The override marks the value
# the policy resource returns (its id, the bucket's name once the policy is in place); the
# logging configuration must read its target from it.
run "logging_waits_for_the_log_bucket_policy" {
  override_resource {
    target = aws_s3_bucket_policy.access_logs
    values = { id = "tv-test-etl-access-logs-policy-applied" }
  }

  assert {
    condition     = aws_s3_bucket_logging.this.target_bucket == "tv-test-etl-access-logs-policy-applied"
    error_message = "aws_s3_bucket_logging must depend on the access-log bucket's policy (first apply fails otherwise)."
  }
}

run "kept_on_destroy_by_default" {
  command = plan

  assert {
    condition     = !aws_s3_bucket.this.force_destroy && !aws_s3_bucket.access_logs.force_destroy
    error_message = "Neither bucket may be force-destroyed unless asked for."
  }
}

run "force_destroy_for_throwaway_environments" {
  command = plan

  variables {
    force_destroy = true
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy && aws_s3_bucket.access_logs.force_destroy
    error_message = "force_destroy must reach both buckets (an unemptied log bucket blocks the teardown)."
  }
}
