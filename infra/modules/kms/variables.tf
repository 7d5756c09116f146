variable "alias" {
  description = "Alias of the key, without the `alias/` prefix (e.g. `tv-prod/data`)."
  type        = string

  validation {
    condition     = !startswith(var.alias, "alias/") && !startswith(var.alias, "aws/")
    error_message = "Give the alias without the alias/ prefix; the aws/ namespace is reserved."
  }
}

variable "description" {
  description = "What the key protects; shown in the KMS console and in CloudTrail."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "KMS accepts a deletion window of 7 to 30 days."
  }
}

variable "allow_cloudwatch_logs" {
  description = "Let CloudWatch Logs in this region use the key for this account's log groups."
  type        = bool
  default     = false
}

variable "service_principals" {
  description = "AWS service principals (e.g. `cloudwatch.amazonaws.com`) allowed to use data keys when acting for this account."
  type        = list(string)
  default     = []
}

variable "grant_principal_arns" {
  description = "IAM principals (typically service-linked roles) allowed to use the key and create grants for AWS resources."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to the key."
  type        = map(string)
  default     = {}
}
