variable "name" {
  description = "Prefix of the trail, the recorder, the key alias and the rules (e.g. `tv-prod`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,32}$", var.name))
    error_message = "Use up to 32 lowercase letters, digits and hyphens."
  }
}

variable "bucket_name" {
  description = "Globally unique name of the audit log bucket (CloudTrail under `cloudtrail/`, AWS Config under `config/`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "log_retention_days" {
  description = "Days the trail and configuration history are kept in the bucket (PCI DSS 10.5.1: at least 365)."
  type        = number
  default     = 400

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "PCI DSS 10.5.1 requires at least one year of audit log history."
  }
}

variable "force_destroy" {
  description = "Let `tofu destroy` delete the bucket with its logs (throwaway environments only: audit logs are evidence)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period of a scheduled deletion of the audit key (7-30)."
  type        = number
  default     = 30
}

variable "config_rules" {
  description = "AWS Config managed rules (source identifiers) evaluated in the account; the defaults check what the platform's PCI DSS controls rely on (docs/pci-dss.md)."
  type        = list(string)
  default = [
    "CLOUD_TRAIL_ENABLED",                     # 10.2.1 audit logs enabled
    "MULTI_REGION_CLOUD_TRAIL_ENABLED",        # 10.2.1 every region
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", # 10.3.4 tamper detection
    "CLOUD_TRAIL_ENCRYPTION_ENABLED",          # 10.3.2 logs protected
    "GUARDDUTY_ENABLED_CENTRALIZED",           # 11.5.1 intrusion detection
    "S3_BUCKET_SSL_REQUESTS_ONLY",             # 4.2.1 strong cryptography in transit
    "S3_BUCKET_PUBLIC_READ_PROHIBITED",        # 1.4.1 no public access to data
    "RDS_STORAGE_ENCRYPTED",                   # 3.5.1 stored data encrypted
    "EKS_SECRETS_ENCRYPTED",                   # 3.5.1
    "ENCRYPTED_VOLUMES",                       # 3.5.1
    "CMK_BACKING_KEY_ROTATION_ENABLED",        # 3.7.4 key rotation
    "VPC_FLOW_LOGS_ENABLED",                   # 10.2.1 network activity logged
    "ROOT_ACCOUNT_MFA_ENABLED",                # 8.4.1 MFA for administrative access
    "IAM_ROOT_ACCESS_KEY_CHECK",               # 8.2.2 no shared root credentials
  ]
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
