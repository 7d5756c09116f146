variable "name" {
  description = "Name of the web ACL."
  type        = string
}

# The service's own admission limit (MAX_TRANSACTIONS_PER_SECOND, answered with 429s and
# counted) is the business limit; this rule is only a flood guard against one source. Card
# traffic arrives from a few payment-gateway IPs (often one NAT address per acquirer), so
# the guard must let one IP reach the service's limit: 300,000 per 5 minutes is 1,000 req/s
# per IP, above dev's (300) and staging's (800) service-wide limits and a third of prod's
# (3,000), so a single source can never take the whole fleet. 2,000 (6.7 req/s) would
# have blocked a single gateway long before the service's own limit.
variable "rate_limit_per_5_minutes" {
  description = "Requests one client IP may send in 5 minutes before WAF blocks it (a flood guard above the service's own MAX_TRANSACTIONS_PER_SECOND admission limit; 300,000 = 1,000 req/s)."
  type        = number
  default     = 300000
  nullable    = false

  validation {
    condition     = var.rate_limit_per_5_minutes >= 10 && var.rate_limit_per_5_minutes <= 2000000000
    error_message = "WAF rate-based rules accept a limit from 10 to 2,000,000,000."
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
