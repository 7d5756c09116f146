# The provider still validates arguments, so mocked ARNs must look real.
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
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::tv-prod-audit" }
  }
  mock_resource "aws_iam_service_linked_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig" }
  }
  mock_resource "aws_cloudtrail" {
    defaults = { arn = "arn:aws:cloudtrail:eu-central-1:123456789012:trail/tv-prod" }
  }
}

variables {
  name        = "tv-prod"
  bucket_name = "tv-prod-audit"
}

run "trail_is_multi_region_validated_and_encrypted" {
  command = plan

  assert {
    condition = (
      aws_cloudtrail.this.is_multi_region_trail &&
      aws_cloudtrail.this.include_global_service_events &&
      aws_cloudtrail.this.enable_log_file_validation &&
      aws_cloudtrail.this.enable_logging
    )
    error_message = "The trail must cover every region and global services, with log file validation, and log."
  }

  assert {
    condition     = aws_cloudtrail.this.kms_key_id == aws_kms_key.this.arn && aws_kms_key.this.enable_key_rotation
    error_message = "The trail must be encrypted with the audit key, which rotates."
  }

  assert {
    condition     = aws_cloudtrail.this.s3_bucket_name == "tv-prod-audit"
    error_message = "The trail must write to the audit bucket."
  }
}

run "bucket_is_locked_down" {
  command = plan

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "Public access must be blocked."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced" && aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "ACLs off and versioning on."
  }

  assert {
    condition = anytrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : anytrue([
        for d in r.apply_server_side_encryption_by_default : d.sse_algorithm == "aws:kms" && d.kms_master_key_id == aws_kms_key.this.arn
      ])
    ])
    error_message = "Default encryption must be SSE-KMS with the audit key."
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration[0].days >= 365 && !aws_s3_bucket.this.force_destroy
    error_message = "Logs kept at least a year; the bucket is not force-destroyed by default."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.bucket.statement :
      s.effect == "Deny" && contains(s.actions, "s3:*") &&
      anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])])
    ])
    error_message = "The bucket must refuse plain HTTP."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.bucket.statement :
      s.effect == "Deny" && toset(s.actions) == toset(["s3:DeleteObject", "s3:DeleteObjectVersion"])
    ])
    error_message = "Nobody may delete audit logs (only the lifecycle rule expires them)."
  }

  # Every Allow is for CloudTrail or Config only, CloudTrail's pinned to this trail.
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.bucket.statement : alltrue([
        for p in s.principals : p.type == "Service" && length(setsubtract(p.identifiers, ["cloudtrail.amazonaws.com", "config.amazonaws.com"])) == 0
      ]) && length(s.condition) > 0 if s.effect != "Deny"
    ])
    error_message = "Only CloudTrail and AWS Config may be allowed in, each under a source condition."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.bucket.statement : anytrue([
        for c in s.condition : c.variable == "aws:SourceArn" && toset(c.values) == toset(["arn:aws:cloudtrail:eu-central-1:123456789012:trail/tv-prod"])
      ]) if s.effect != "Deny" && anytrue([for p in s.principals : contains(p.identifiers, "cloudtrail.amazonaws.com")])
    ])
    error_message = "CloudTrail's access must be pinned to this trail (aws:SourceArn)."
  }
}

run "key_is_used_by_this_trail_only" {
  command = plan

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement : anytrue([
        for c in s.condition : c.variable == "aws:SourceArn" && toset(c.values) == toset(["arn:aws:cloudtrail:eu-central-1:123456789012:trail/tv-prod"])
      ]) if anytrue([for p in s.principals : contains(p.identifiers, "cloudtrail.amazonaws.com")])
    ])
    error_message = "CloudTrail may use the key for this trail only."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement : anytrue([
        for c in s.condition : c.variable == "aws:SourceAccount" && toset(c.values) == toset(["123456789012"])
      ]) if anytrue([for p in s.principals : contains(p.identifiers, "config.amazonaws.com")])
    ])
    error_message = "AWS Config may use the key for this account only."
  }
}

run "guardduty_and_config_record" {
  command = plan

  assert {
    condition     = aws_guardduty_detector.this.enable && toset(keys(aws_guardduty_detector_feature.this)) == toset(["EKS_AUDIT_LOGS", "S3_DATA_EVENTS"]) && alltrue([for f in aws_guardduty_detector_feature.this : f.status == "ENABLED"])
    error_message = "GuardDuty must be on, with EKS audit logs and S3 data events."
  }

  assert {
    condition     = aws_config_configuration_recorder.this.recording_group[0].all_supported && aws_config_configuration_recorder.this.recording_group[0].include_global_resource_types
    error_message = "AWS Config must record every supported resource type, global ones included."
  }

  assert {
    condition     = aws_config_configuration_recorder_status.this.is_enabled && aws_config_delivery_channel.this.s3_bucket_name == "tv-prod-audit" && aws_config_delivery_channel.this.s3_kms_key_arn == aws_kms_key.this.arn
    error_message = "The recorder must run and deliver, KMS-encrypted, to the audit bucket."
  }

  assert {
    condition = length(setsubtract([
      "CLOUD_TRAIL_ENABLED", "MULTI_REGION_CLOUD_TRAIL_ENABLED", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
      "CLOUD_TRAIL_ENCRYPTION_ENABLED", "GUARDDUTY_ENABLED_CENTRALIZED", "S3_BUCKET_SSL_REQUESTS_ONLY",
      "RDS_STORAGE_ENCRYPTED", "EKS_SECRETS_ENCRYPTED", "CMK_BACKING_KEY_ROTATION_ENABLED",
    ], [for r in aws_config_config_rule.this : r.source[0].source_identifier])) == 0
    error_message = "The PCI DSS rules must be evaluated."
  }
}

# A throwaway environment can be torn down: no delete deny, force_destroy on.
run "throwaway_bucket_can_be_destroyed" {
  command = plan

  variables {
    force_destroy = true
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy && !anytrue([for s in data.aws_iam_policy_document.bucket.statement : s.sid == "DenyDeletingLogs"])
    error_message = "force_destroy must allow emptying the bucket."
  }
}

run "rejects_short_retention" {
  command = plan

  variables {
    log_retention_days = 90
  }

  expect_failures = [var.log_retention_days]
}
