output "state_bucket_name" {
  description = "Bucket for the environments' backend \"s3\" `bucket`."
  value       = module.state_bucket.bucket_name
}

output "lock_table_name" {
  description = "Deprecated DynamoDB lock table (backend \"s3\" `dynamodb_table`), null once lock_table_name is unset."
  value       = one(aws_dynamodb_table.lock[*].name)
}

output "state_kms_key_arn" {
  description = "KMS key encrypting the state objects and the lock table."
  value       = module.kms.key_arn
}
