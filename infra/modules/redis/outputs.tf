output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "replication_group_arn" {
  description = "ARN of the replication group."
  value       = aws_elasticache_replication_group.this.arn
}

output "configuration_endpoint" {
  description = "Cluster-mode configuration endpoint (host only); the service connects with rediss://<user>:<password>@<this>:6379."
  value       = aws_elasticache_replication_group.this.configuration_endpoint_address
}

output "port" {
  description = "Port of the replication group."
  value       = aws_elasticache_replication_group.this.port
}

output "secret_arn" {
  description = "Secrets Manager ARN of the service's Redis credentials (keys: username, password, host, port, url)."
  value       = aws_secretsmanager_secret.app.arn
}

output "app_username" {
  description = "Redis RBAC user name of the service."
  value       = aws_elasticache_user.app.user_name
}
