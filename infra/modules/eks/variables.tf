variable "name" {
  description = "Name of the EKS cluster; prefixes its IAM roles."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane (e.g. `1.35`); one of `standard_support_end_dates`."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "Use a minor version such as 1.35."
  }
}

variable "support_type" {
  description = "EKS upgrade policy. STANDARD: AWS upgrades the control plane itself when the version's standard support ends (no extended-support fee, never a Kubernetes version without upstream patches). EXTENDED: 12 more months at six times the hourly cluster price."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "EXTENDED"], var.support_type)
    error_message = "support_type must be STANDARD or EXTENDED."
  }
}

variable "standard_support_end_dates" {
  description = "End of EKS standard support per Kubernetes minor version (YYYY-MM-DD, AWS's Kubernetes version calendar). A version not listed is refused; a plan past its date warns (check `kubernetes_version_in_standard_support`), before AWS upgrades the control plane on its own."
  type        = map(string)
  default = {
    "1.33" = "2026-07-29"
    "1.34" = "2026-12-02"
    "1.35" = "2027-03-27"
  }

  validation {
    condition     = alltrue([for d in values(var.standard_support_end_dates) : can(formatdate("YYYY-MM-DD", "${d}T00:00:00Z"))])
    error_message = "Dates must be YYYY-MM-DD."
  }
}

variable "subnet_ids" {
  description = "Private subnets (one per AZ) for the control-plane ENIs."
  type        = list(string)
}

variable "cluster_security_group_id" {
  description = "Additional security group of the control plane (from the network module)."
  type        = string
}

variable "node_security_group_id" {
  description = "Security group of the nodes (from the network module)."
  type        = string
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API publicly as well. Keep false: the API is reached over the VPN / from runners in the VPC."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to the public API endpoint when `endpoint_public_access` is true."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "Never open the public endpoint to 0.0.0.0/0."
  }
}

variable "secrets_kms_key_arn" {
  description = "KMS key for envelope encryption of Kubernetes Secrets."
  type        = string
}

variable "ebs_kms_key_arn" {
  description = "KMS key for the nodes' root volumes."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the control-plane log group."
  type        = string
}

variable "secrets_manager_kms_key_arn" {
  description = "KMS key that encrypts Secrets Manager secrets (External Secrets must decrypt the shared ones)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the control-plane logs (audit logs are PCI evidence: >= 365)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "Control-plane audit logs must be kept for at least a year (PCI DSS 10.5.1)."
  }
}

variable "deletion_protection" {
  description = "Refuse `DeleteCluster` until this is switched off."
  type        = bool
  default     = true
}

variable "admin_principal_arns" {
  description = "IAM roles granted cluster-admin through EKS access entries (break-glass / platform team)."
  type        = list(string)
  default     = []
}

variable "node_subnet_ids" {
  description = "Private subnet of each availability zone the nodes run in, keyed by AZ name: every node group becomes one managed node group per AZ."
  type        = map(string)

  validation {
    condition     = length(var.node_subnet_ids) >= 1
    error_message = "Give at least one AZ's subnet for the nodes."
  }
}

variable "node_groups" {
  description = "Managed node groups (Graviton, AL2023) keyed by name; each is created once per AZ of `node_subnet_ids`, with these sizes per AZ."
  type = map(object({
    instance_types      = list(string)
    capacity_type       = optional(string, "ON_DEMAND")
    min_size_per_az     = number
    max_size_per_az     = number
    desired_size_per_az = number
    disk_size_gb        = optional(number, 50)
    labels              = optional(map(string), {})
  }))

  validation {
    condition = alltrue([
      for g in values(var.node_groups) :
      g.min_size_per_az >= 0 && g.min_size_per_az <= g.desired_size_per_az && g.desired_size_per_az <= g.max_size_per_az && g.max_size_per_az >= 1
    ])
    error_message = "Each node group needs 0 <= min <= desired <= max per AZ, and max >= 1."
  }

  validation {
    condition     = alltrue([for g in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], g.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    # Managed node group names (<group>-<az>) are limited to 63 characters.
    condition     = alltrue([for k in keys(var.node_groups) : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", k))])
    error_message = "Node group keys: up to 31 lowercase letters, digits and hyphens."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
