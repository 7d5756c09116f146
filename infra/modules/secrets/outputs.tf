output "secret_arns" {
  description = "Secret ARNs keyed by logical name."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_names" {
  description = "Secret names keyed by logical name (the `remoteRef.key` of an ExternalSecret)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}

output "replica_region" {
  description = "Region the secrets are replicated to, or null."
  value       = var.replica == null ? null : var.replica.region
}
