variable "name" {
  description = "Name of the backup plan, vaults and role (e.g. `tv-prod`)."
  type        = string
}

variable "resource_arns" {
  description = "ARNs of what is backed up and copied: the Aurora cluster, S3 buckets (versioned), ..."
  type        = list(string)

  validation {
    condition     = length(var.resource_arns) > 0
    error_message = "Give at least one resource to back up."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the vault in the primary region (the key of the data it holds)."
  type        = string
}

variable "schedule" {
  description = "When a recovery point is taken and copied to the DR region (AWS Backup cron, UTC). Its period bounds the data lost with the region (RPO)."
  type        = string
  default     = "cron(0 */4 * * ? *)"
}

variable "retention_days" {
  description = "Days a recovery point is kept, in both regions."
  type        = number
  default     = 35

  validation {
    condition     = var.retention_days >= 7 && var.retention_days <= 365
    error_message = "Keep recovery points 7 to 365 days."
  }
}

variable "lock_mode" {
  description = "Vault Lock on both vaults: \"governance\" (a privileged user may lift it) or \"compliance\" (after a 3-day grace period nobody, AWS included, can shorten retention or delete a recovery point)."
  type        = string
  default     = "governance"

  validation {
    condition     = contains(["governance", "compliance"], var.lock_mode)
    error_message = "lock_mode must be \"governance\" or \"compliance\"."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled deletion of the DR region's key takes effect (7-30 days)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource and recovery point."
  type        = map(string)
  default     = {}
}
