variable "name" {
  description = "Name of the IAM role."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC identity provider."
  type        = string
}

variable "oidc_issuer_host" {
  description = "OIDC issuer URL of the cluster without `https://` (the prefix of the trust-policy condition keys)."
  type        = string

  validation {
    condition     = !startswith(var.oidc_issuer_host, "https://")
    error_message = "Give the issuer without its https:// scheme."
  }
}

variable "namespace" {
  description = "Kubernetes namespace of the service account."
  type        = string
}

variable "service_account" {
  description = "Name of the only Kubernetes service account allowed to assume the role."
  type        = string

  validation {
    condition     = !strcontains(var.service_account, "*")
    error_message = "Wildcards would let other service accounts assume the role."
  }
}

variable "policy_json" {
  description = "Inline policy document (JSON from an aws_iam_policy_document) granted to the role when attach_policy_json is true."
  type        = string
  default     = null
}

variable "attach_policy_json" {
  description = "Attach policy_json as an inline policy. A separate flag because policy_json is often unknown until apply."
  type        = bool
  default     = true
}

variable "managed_policy_arns" {
  description = "AWS-managed policies to attach, for components whose vendor publishes one (e.g. CloudWatchAgentServerPolicy)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to the role."
  type        = map(string)
  default     = {}
}
