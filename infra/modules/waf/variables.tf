variable "name" {
  description = "Name of the web ACL."
  type        = string
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one client IP may send in 5 minutes before being blocked."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit_per_5_minutes >= 10
    error_message = "WAF rate-based rules accept a limit of at least 10."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key of the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the WAF logs (PCI DSS 10.5.1: at least 365)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "WAF logs are PCI audit evidence: keep them at least a year."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
