variable "name" {
  description = "Replication group ID; prefixes users, user group and log groups."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "ElastiCache IDs are lowercase, start with a letter and have at most 40 characters."
  }
}

variable "engine_version" {
  description = "Redis OSS engine version (7.x for RBAC with cluster mode and TLS)."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Node type. Sessions and idempotency keys are small and short-lived: memory-optimised Graviton nodes."
  type        = string
}

variable "num_shards" {
  description = "Number of shards (node groups)."
  type        = number
  default     = 1

  validation {
    condition     = var.num_shards >= 1 && var.num_shards <= 500
    error_message = "num_shards must be between 1 and 500."
  }
}

variable "replicas_per_shard" {
  description = "Replicas per shard, placed in other AZs; at least 1 for automatic failover."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas_per_shard >= 1 && var.replicas_per_shard <= 5
    error_message = "Multi-AZ failover needs 1 to 5 replicas per shard."
  }
}

variable "app_username" {
  description = "Redis RBAC user name of the service."
  type        = string
  default     = "transaction-validator"
}

variable "app_access_string" {
  description = "Redis ACL of the service user. Dangerous commands (FLUSHALL, KEYS, CONFIG, ...) are excluded."
  type        = string
  default     = "on ~* &* +@all -@dangerous"
}

variable "subnet_ids" {
  description = "Database subnets (one per AZ)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the replication group."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the connection secret."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the slow-log and engine-log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the Redis log groups."
  type        = number
  default     = 365
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots (0 disables them; the cache can be rebuilt, but warm restarts are cheaper)."
  type        = number
  default     = 1
}

variable "notification_topic_arn" {
  description = "SNS topic for ElastiCache events (failovers, node replacements); null for none."
  type        = string
  default     = null
}

variable "secret_name" {
  description = "Name of the Secrets Manager secret holding the service's Redis credentials and URL."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; use 7-30)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
