output "trail_arn" {
  description = "ARN of the multi-region CloudTrail trail."
  value       = aws_cloudtrail.this.arn
}

output "bucket_name" {
  description = "Audit log bucket (CloudTrail under `cloudtrail/`, AWS Config under `config/`)."
  value       = aws_s3_bucket.this.bucket
}

output "kms_key_arn" {
  description = "KMS key encrypting the audit logs."
  value       = aws_kms_key.this.arn
}

output "guardduty_detector_id" {
  description = "GuardDuty detector of the account and region."
  value       = aws_guardduty_detector.this.id
}

output "config_recorder_name" {
  description = "AWS Config configuration recorder."
  value       = aws_config_configuration_recorder.this.name
}

output "config_rule_names" {
  description = "AWS Config managed rules, keyed by source identifier."
  value       = { for k, r in aws_config_config_rule.this : k => r.name }
}
