variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-central-1"
}

variable "dr_region" {
  description = "AWS region of the disaster-recovery copies (provider aws.dr); must differ from region."
  type        = string
  default     = "eu-west-1"
}

variable "dr" {
  description = "Disaster recovery across regions (provider aws.dr): when enabled, Aurora and the ETL bucket are backed up every `backup_schedule` into locked vaults of both regions (`backup_retention_days`; `backup_lock_mode` governance or compliance) and the secrets are replicated to the DR region, each encrypted with a key of that region."
  type = object({
    enabled               = bool
    backup_schedule       = optional(string, "cron(0 */4 * * ? *)")
    backup_retention_days = optional(number, 35)
    backup_lock_mode      = optional(string, "governance")
  })
  default = { enabled = false }
}

variable "environment" {
  description = "Which environment this state is: dev, staging or prod (set in each `<env>.tfvars`; resources are named `tv-<environment>`)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "allowed_account_ids" {
  description = "The AWS account(s) this root may run against (the provider refuses any other, so a wrong profile cannot touch another environment). Per environment and not committed: give it as TF_VAR_allowed_account_ids='[\"<12-digit id>\"]' or -var."
  type        = list(string)

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must name at least one AWS account, each a 12-digit id (e.g. TF_VAR_allowed_account_ids='[\"111122223333\"]')."
  }
}

variable "azs" {
  description = "The three availability zones every tier is spread over."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3 && length(distinct(var.azs)) == 3
    error_message = "Give three distinct availability zones."
  }
}

variable "vpc_cidr" {
  description = "/16 CIDR of the VPC; subnets are carved from it (private /19 per AZ, public and database /24 per AZ)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16")
    error_message = "vpc_cidr must be an IPv4 /16."
  }
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (dev: ~$65/month cheaper per AZ saved) instead of one per AZ (prod: egress survives an AZ outage)."
  type        = bool
}

variable "cluster_admin_cidrs" {
  description = "Private CIDRs (VPN, CI runners) allowed to reach the private Kubernetes API."
  type        = list(string)
  default     = []
}

variable "cluster_admin_principal_arns" {
  description = "IAM roles mapped to cluster-admin through EKS access entries."
  type        = list(string)
  default     = []
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version."
  type        = string
  default     = "1.35"
}

variable "node_groups" {
  description = "EKS managed node groups (Graviton instance types; see the eks module)."
  type = map(object({
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    # One managed node group per AZ (the zone spread's minDomains: 3 needs a group the
    # cluster autoscaler can grow in each zone), so every size is per AZ.
    min_size_per_az     = number
    max_size_per_az     = number
    desired_size_per_az = number
    disk_size_gb        = optional(number, 50)
    labels              = optional(map(string), {})
  }))
}

variable "deletion_protection" {
  description = "Deletion protection of the EKS cluster and the Aurora cluster. On unless an environment is explicitly throwaway (dev, staging)."
  type        = bool
  default     = true
}

variable "database_client_auth" {
  description = "How the services log in to Aurora through RDS Proxy: \"password\" (DATABASE_URL secrets; kustomize components/database-password) or \"iam\" (IAM tokens, no password; the services' DATABASE_AUTH=iam, kustomize components/database-iam)."
  type        = string
  default     = "password"

  validation {
    condition     = contains(["password", "iam"], var.database_client_auth)
    error_message = "database_client_auth must be \"password\" or \"iam\"."
  }
}

variable "aurora_engine_version" {
  description = "Aurora PostgreSQL engine version (15.x or 16.x)."
  type        = string
  default     = "16.6"
}

variable "aurora_instance_class" {
  description = "Instance class of the Aurora writer and readers."
  type        = string
}

variable "aurora_instance_count" {
  description = "Aurora instances (writer + readers), at least 2 for multi-AZ failover."
  type        = number
}

variable "aurora_backup_retention_days" {
  description = "Aurora automated backup retention (at least 7 days)."
  type        = number
  default     = 7
}

variable "aurora_performance_insights_retention_days" {
  description = "Performance Insights retention (7 is free)."
  type        = number
  default     = 7
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_num_shards" {
  description = "Redis shards (cluster mode)."
  type        = number
}

variable "redis_replicas_per_shard" {
  description = "Replicas per Redis shard (at least 1, in other AZs)."
  type        = number
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client IP per 5 minutes before WAF blocks it: a flood guard that must stay above what one payment gateway sends at the service's own limit (see the waf module; 300,000 = 1,000 req/s)."
  type        = number
  default     = 300000
}

variable "etl_bucket_name" {
  description = "Globally unique name of the S3 bucket the fx-rates-etl job writes to (prefix `fx-rates/`)."
  type        = string
}

variable "etl_bucket_force_destroy" {
  description = "Let `tofu destroy` empty and delete the ETL bucket and its access-log bucket (throwaway dev/staging only; refused in prod, whose data and access logs are evidence)."
  type        = bool
  default     = false

  validation {
    condition     = !(var.etl_bucket_force_destroy && var.environment == "prod")
    error_message = "prod buckets are never force-destroyed: empty them deliberately if they must go."
  }
}

variable "audit_bucket_name" {
  description = "Globally unique name of the account's audit log bucket (CloudTrail and AWS Config; modules/audit)."
  type        = string
}

variable "audit_bucket_force_destroy" {
  description = "Let `tofu destroy` delete the audit bucket with its logs, and drop its deny on deleting them (throwaway dev/staging only; refused in prod, whose audit logs are evidence)."
  type        = bool
  default     = false

  validation {
    condition     = !(var.audit_bucket_force_destroy && var.environment == "prod")
    error_message = "prod's audit logs are evidence: its audit bucket is never force-destroyed."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener, issued outside Terraform (DNS validation in the company zone). Null until it exists; passed through to the Ingress annotation."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_arn_suffix" {
  description = "Narrows the ALB alarms to one load balancer (`app/<name>/<id>`). Not needed: null alarms on every ALB of the account and region, the Load Balancer Controller's one per environment, from the first apply on."
  type        = string
  default     = null
}

variable "alert_emails" {
  description = "E-mail subscribers of the alert topic."
  type        = list(string)
  default     = []

  # An alarm that reaches nobody is no alarm: prod refuses to plan without a subscriber.
  validation {
    condition     = var.environment != "prod" || length(var.alert_emails) + length(var.alert_https_endpoints) > 0
    error_message = "prod needs at least one alert subscriber: set alert_emails or alert_https_endpoints (e.g. TF_VAR_alert_emails='[\"oncall@example.com\"]'), or every alarm reaches nobody."
  }
}

variable "alert_https_endpoints" {
  description = "HTTPS subscribers of the alert topic (pager or chat integrations that confirm SNS subscriptions themselves). Sensitive: the URLs carry tokens."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "log_retention_days" {
  description = "Retention of every audit-relevant log group (PCI DSS 10.5.1: at least 365)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "PCI DSS 10.5.1 requires at least one year of audit log history."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret stays recoverable (7-30)."
  type        = number
  default     = 30
}

variable "create_autoscaling_service_linked_role" {
  description = "Create the account's AWSServiceRoleForAutoScaling (named in the data key's policy; a fresh account has none yet). false where the account already has it, or import it into `aws_iam_service_linked_role.autoscaling[0]`."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Waiting period of scheduled KMS key deletions (7-30)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags for every resource (cost centre, owner, data classification)."
  type        = map(string)
  default     = {}
}

# Inputs of this root only (not passed to modules/platform): the CI identities and the
# cluster's break-glass admin role, in identities.tf.

variable "ci_github_repository" {
  description = "The GitHub repository (`owner/name`) whose workflows may assume this environment's CI roles (modules/ci-identities)."
  type        = string
}

variable "ci_create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider in this environment's state. IAM has one per account and URL: where environments share an account, exactly one of them creates it (true) and the others use it (false)."
  type        = bool
  default     = true
}

variable "ci_state_bucket_name" {
  description = "This environment's state bucket (infra/bootstrap; the `bucket` of `<env>.s3.tfbackend`), which the plan role reads."
  type        = string
}

variable "ci_plan_reads_terraform_written_secrets" {
  description = "Let the plan role read the values of the secrets Terraform writes (Redis user; database users in \"password\" mode), exactly those: a refreshing plan reads them (GetSecretValue), and without it the plan fails. Whoever can assume the plan role (pull requests of the repository too) can then read those passwords, so never in prod (refused)."
  type        = bool
  default     = false

  validation {
    condition     = !(var.environment == "prod" && var.ci_plan_reads_terraform_written_secrets)
    error_message = "prod's plan role may not read prod's passwords: pull requests assume it (infra/README.md, \"Not done\")."
  }
}

variable "ci_apply_policy_arns" {
  description = "Managed policies of the environment's apply role, i.e. what the infra workflow's apply may change."
  type        = list(string)
}

variable "cluster_admin_role_max_session_hours" {
  description = "Longest session of the environment's break-glass cluster-admin role (1-12 hours)."
  type        = number
  default     = 1

  validation {
    condition     = var.cluster_admin_role_max_session_hours >= 1 && var.cluster_admin_role_max_session_hours <= 12
    error_message = "IAM role sessions last 1 to 12 hours."
  }
}
