variable "secrets" {
  description = "Secrets to create, keyed by a short logical name. `service_account` (namespace/name) documents the only reader."
  type = map(object({
    name            = string
    description     = string
    service_account = string
  }))
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the secrets."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days >= 7 && var.recovery_window_days <= 30
    error_message = "Use a recovery window of 7 to 30 days so a deletion can be undone."
  }
}

variable "tags" {
  description = "Tags added to every secret."
  type        = map(string)
  default     = {}
}
