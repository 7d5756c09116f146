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

variable "signing" {
  description = "Make an asymmetric signing key (key usage SIGN_VERIFY) instead of a symmetric encryption key: its key spec, the principals that may sign with it, and those that may only read its public key and verify. null: an encryption key."
  type = object({
    key_spec      = string
    signer_arns   = list(string)
    verifier_arns = optional(list(string), [])
  })
  default = null

  validation {
    # What cosign's KMS client can sign with (ECDSA or RSA; not secp256k1, SM2 or HMAC).
    condition     = var.signing == null || contains(["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "RSA_2048", "RSA_3072", "RSA_4096"], try(var.signing.key_spec, ""))
    error_message = "signing.key_spec must be an ECC_NIST_* or RSA_* key spec."
  }

  validation {
    condition     = var.signing == null || try(length(var.signing.signer_arns) > 0, false)
    error_message = "A signing key needs at least one principal that signs."
  }

  validation {
    condition = var.signing == null || alltrue([
      for a in concat(try(var.signing.signer_arns, []), try(coalesce(var.signing.verifier_arns, []), [])) :
      can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[^*?]+$", a))
    ])
    error_message = "Signers and verifiers must be IAM role or user ARNs, without wildcards."
  }

  validation {
    condition     = var.signing == null || length(setintersection(toset(try(var.signing.signer_arns, [])), toset(try(coalesce(var.signing.verifier_arns, []), [])))) == 0
    error_message = "A principal is either a signer or a verifier (a signer may already read the public key)."
  }
}
