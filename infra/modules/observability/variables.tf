variable "name" {
  description = "Prefix of the topic and alarm names (e.g. `tv-prod`)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name (Container Insights dimension and log-group path)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the SNS topic; its policy must let cloudwatch.amazonaws.com use it."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "KMS key of the Container Insights log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the application, host and data-plane logs (PCI DSS 10.5.1: at least 365)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 365
    error_message = "Logs of the cardholder-data environment must be kept at least a year."
  }
}

variable "metrics_log_retention_days" {
  description = "Retention of the Container Insights performance log events (metrics source, not audit evidence)."
  type        = number
  default     = 30
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (each must confirm). Pager integrations subscribe out of band."
  type        = list(string)
  default     = []
}

variable "aurora_cluster_identifier" {
  description = "Aurora cluster to alarm on."
  type        = string
}

variable "aurora_cpu_threshold" {
  description = "Aurora CPU percentage that pages."
  type        = number
  default     = 80
}

variable "aurora_connections_threshold" {
  description = "Aurora DatabaseConnections that page: about 80% of the cluster's max_connections (the services' pools, migrations and the back office together)."
  type        = number
  default     = 320
}

variable "runbook_base_url" {
  description = "Where docs/runbook.md of this repository is browsed, without the trailing /docs/runbook.md (repository URL and ref). Every alarm description links its section."
  type        = string
  default     = "https://github.com/transaction-validator/transaction-validator/blob/main"

  validation {
    condition     = can(regex("^https://[^ ]+[^/]$", var.runbook_base_url))
    error_message = "Give an https URL without a trailing slash."
  }
}

variable "redis" {
  description = "Redis replication group to alarm on (per node); null for none."
  type = object({
    replication_group_id = string
    num_shards           = number
    replicas_per_shard   = number
  })
  default = null
}

variable "alb_arn_suffix" {
  description = "ARN suffix (`app/<name>/<id>`) of the ALB the Load Balancer Controller created for the Ingress. The ALB exists only after the first deployment, so ALB alarms are created once this is set; null until then."
  type        = string
  default     = null

  validation {
    condition     = var.alb_arn_suffix == null || can(regex("^app/[^/]+/[0-9a-f]+$", var.alb_arn_suffix))
    error_message = "Give the ALB's ARN suffix, e.g. app/k8s-transact-xxxx/0123456789abcdef."
  }
}

variable "alb_5xx_threshold" {
  description = "5xx responses per minute that page."
  type        = number
  default     = 5
}

variable "alb_p99_latency_seconds" {
  description = "p99 target response time (seconds) that pages."
  type        = number
  default     = 0.5
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
