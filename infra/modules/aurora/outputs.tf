output "cluster_identifier" {
  description = "Identifier of the Aurora cluster."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the Aurora cluster."
  value       = aws_rds_cluster.this.arn
}

output "cluster_resource_id" {
  description = "Resource ID of the cluster (used in rds-db:connect ARNs for direct IAM logins)."
  value       = aws_rds_cluster.this.cluster_resource_id
}

output "writer_endpoint" {
  description = "Writer endpoint of the cluster (migrations, break-glass)."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Reader endpoint of the cluster."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_rds_cluster.this.database_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager ARN of the RDS-managed, auto-rotated master credentials."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "proxy_endpoint" {
  description = "RDS Proxy endpoint applications connect to."
  value       = aws_db_proxy.this.endpoint
}

output "proxy_arn" {
  description = "ARN of the RDS Proxy."
  value       = aws_db_proxy.this.arn
}

output "proxy_db_connect_arns" {
  description = "Per database user, the rds-db:connect resource ARN that lets an IAM role log in through the proxy."
  value = {
    for user in var.iam_database_users :
    user => "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${local.proxy_resource_id}/${user}"
  }
}

output "parameter_group_name" {
  description = "Cluster parameter group."
  value       = aws_rds_cluster_parameter_group.this.name
}

output "log_group_name" {
  description = "Log group of the exported PostgreSQL logs."
  value       = aws_cloudwatch_log_group.postgresql.name
}

output "user_credentials_secret_arns" {
  description = "Per application user (\"password\" mode), the JSON credentials secret read by the proxy; empty in \"iam\" mode."
  value       = { for u, sec in aws_secretsmanager_secret.credentials : u => sec.arn }
}

output "user_url_secret_arns" {
  description = "Per application user (\"password\" mode), the secret whose value is the full DATABASE_URL; empty in \"iam\" mode."
  value       = { for u, sec in aws_secretsmanager_secret.url : u => sec.arn }
}

output "user_url_secret_names" {
  description = "Per application user (\"password\" mode), the name of the DATABASE_URL secret (ExternalSecret remoteRef.key)."
  value       = { for u, sec in aws_secretsmanager_secret.url : u => sec.name }
}
