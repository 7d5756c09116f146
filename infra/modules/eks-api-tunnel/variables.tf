variable "name" {
  description = "Name of the environment's resources (e.g. `tv-prod`); also the value of the instance's `eks-api-tunnel` tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]{1,32}$", var.name))
    error_message = "Use up to 32 lowercase letters, digits and hyphens."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the instance may run in (one per AZ: Auto Scaling replaces it in another AZ)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one private subnet."
  }
}

variable "cluster_security_group_id" {
  description = "Security group of the EKS control plane's private endpoint; gets the one ingress rule from the instance."
  type        = string
}

variable "ebs_kms_key_arn" {
  description = "KMS key of the root volume (its policy must let the Auto Scaling service-linked role use it)."
  type        = string
}

variable "session_role_names" {
  description = "IAM roles (names) that may open a port-forwarding session through the instance: the deploy roles. Nothing else is granted to them here."
  type        = list(string)
}

variable "instance_type" {
  description = "Graviton instance type; it only relays bytes."
  type        = string
  default     = "t4g.nano"
}

variable "root_volume_gb" {
  description = "Root volume size (at least the AMI's, 8 GiB for Amazon Linux 2023)."
  type        = number
  default     = 8
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
