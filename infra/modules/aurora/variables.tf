variable "name" {
  description = "Cluster identifier; prefixes the proxy, parameter group and IAM roles."
  type        = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL version (15.x or 16.x; the service is tested on both)."
  type        = string
  default     = "16.6"

  validation {
    condition     = can(regex("^1[56]\\.[0-9]+$", var.engine_version))
    error_message = "transaction-validator supports Aurora PostgreSQL 15 and 16."
  }
}

variable "database_name" {
  description = "Name of the database created in the cluster."
  type        = string
  default     = "payments"
}

variable "master_username" {
  description = "Master user name; its password is managed by RDS in Secrets Manager."
  type        = string
  default     = "tv_admin"
}

variable "iam_database_users" {
  description = "Application database users that log in through the proxy (in \"iam\" mode each needs `GRANT rds_iam TO <user>`)."
  type        = list(string)
  default     = ["transaction_validator", "operator_console"]
}

variable "client_auth" {
  description = "How applications log in through RDS Proxy: \"password\" (generated password in Secrets Manager, DATABASE_URL secret) or \"iam\" (IAM tokens end to end, no password exists)."
  type        = string
  default     = "password"

  validation {
    condition     = contains(["password", "iam"], var.client_auth)
    error_message = "client_auth must be \"password\" or \"iam\"."
  }
}

variable "user_secret_prefix" {
  description = "Name prefix of the application users' credential secrets (\"password\" mode), e.g. `transaction-validator/prod/database`; null means `<name>/database`."
  type        = string
  default     = null

  validation {
    condition     = var.user_secret_prefix == null || can(regex("^[A-Za-z0-9/_+=.@-]+$", var.user_secret_prefix))
    error_message = "user_secret_prefix may contain only characters Secrets Manager allows in names."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted credentials secret stays recoverable (7-30)."
  type        = number
  default     = 30
}

variable "instance_class" {
  description = "Instance class of the writer and readers."
  type        = string
}

variable "instance_count" {
  description = "Writer plus readers. At least 2 so that a failover target exists in another AZ."
  type        = number

  validation {
    condition     = var.instance_count >= 2
    error_message = "Aurora must be multi-AZ: use at least two instances."
  }
}

variable "azs" {
  description = "Availability zones the instances are spread over, round-robin."
  type        = list(string)
}

variable "subnet_ids" {
  description = "Database subnets (one per AZ) for the cluster and the proxy."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the cluster."
  type        = string
}

variable "proxy_security_group_id" {
  description = "Security group of the RDS Proxy."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, snapshots and Performance Insights."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key for the RDS-managed master-user secret."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the exported PostgreSQL and proxy log groups."
  type        = string
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "Keep 7 to 35 days of backups."
  }
}

variable "deletion_protection" {
  description = "Block deletion of the cluster. Secure by default; only throwaway environments turn it off."
  type        = bool
  default     = true
}

variable "performance_insights_retention_days" {
  description = "Performance Insights retention: 7 (free) or a multiple of 31 up to 731."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Retention of the PostgreSQL and proxy logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
