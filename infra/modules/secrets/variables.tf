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

variable "replica" {
  description = "Replicate every secret to another region (disaster recovery), encrypted with `kms_key_arn`, a key of that region; null keeps the secrets in this region only."
  type = object({
    region      = string
    kms_key_arn = string
  })
  default = null

  validation {
    condition     = var.replica == null || try(split(":", var.replica.kms_key_arn)[3] == var.replica.region, false)
    error_message = "A replica must be encrypted with a KMS key of the replica's own region."
  }
}
