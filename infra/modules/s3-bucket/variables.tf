variable "name" {
  description = "Globally unique bucket name; the access-log bucket is `<name>-access-logs`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,49}[a-z0-9]$", var.name))
    error_message = "Use 3-51 lowercase letters, digits, dots and hyphens (12 characters stay free for the -access-logs suffix)."
  }
}

variable "kms_key_arn" {
  description = "KMS key for default encryption of the bucket's objects."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept (the undo window)."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days the server access logs are kept (PCI DSS 10.5.1: at least 365)."
  type        = number
  default     = 400

  validation {
    condition     = var.access_log_retention_days >= 365
    error_message = "Access logs are audit evidence: keep them at least a year."
  }
}

variable "force_destroy" {
  description = "Let `tofu destroy` delete both buckets with every object version in them (throwaway environments only; keep false where the data or the access logs are evidence)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to both buckets."
  type        = map(string)
  default     = {}
}
