variable "name" {
  description = "Name prefix of every network resource (e.g. `tv-prod`)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name, used in the `kubernetes.io/cluster/<name>` discovery tags."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "azs" {
  description = "Availability zones to spread every tier over (exactly three)."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3
    error_message = "The platform is designed for three availability zones."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDRs of the public subnets (ALB, NAT gateways), one per AZ in `azs` order."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_cidrs) == 3
    error_message = "Give one public subnet CIDR per availability zone."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDRs of the private subnets (EKS nodes and pods), one per AZ. Pods take VPC IPs, so size them generously."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_cidrs) == 3
    error_message = "Give one private subnet CIDR per availability zone."
  }
}

variable "database_subnet_cidrs" {
  description = "CIDRs of the isolated database subnets (Aurora, RDS Proxy, Redis), one per AZ."
  type        = list(string)

  validation {
    condition     = length(var.database_subnet_cidrs) == 3
    error_message = "Give one database subnet CIDR per availability zone."
  }
}

variable "single_nat_gateway" {
  description = "true: one NAT gateway shared by all AZs (cheap, not AZ-resilient). false: one NAT gateway per AZ."
  type        = bool
}

variable "app_port" {
  description = "Container port the ALB forwards to (transaction-validator's HTTP API)."
  type        = number
  default     = 8080
}

variable "cluster_admin_cidrs" {
  description = "Private IPv4 CIDRs (VPN, CI runners) allowed to reach the private EKS API endpoint; each /16 or narrower."
  type        = list(string)
  default     = []

  # Not only 0.0.0.0/0: 0.0.0.0/1 + 128.0.0.0/1 is the internet too. A /16 is the widest
  # block an admin network plausibly needs. IPv4 only (the rule is cidr_ipv4), so ::/0 and
  # every other IPv6 block is refused here rather than at apply.
  validation {
    condition = alltrue([
      for c in var.cluster_admin_cidrs :
      can(cidrnetmask(c)) && try(tonumber(split("/", c)[1]) >= 16, false)
    ])
    error_message = "Each cluster_admin_cidrs entry must be an IPv4 CIDR of /16 or narrower (never 0.0.0.0/0, no IPv6)."
  }
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow logs. PCI DSS 10.5.1 asks for at least one year."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "Flow logs are PCI audit evidence: use a CloudWatch Logs retention of at least 365 days."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the flow-log group (its policy must allow CloudWatch Logs)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
