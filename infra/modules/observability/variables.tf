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
  description = "E-mail addresses subscribed to the alert topic (each must confirm)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+[.][^@ ]+$", e))])
    error_message = "Every alert_emails entry must be an e-mail address."
  }
}

variable "alert_https_endpoints" {
  description = "HTTPS endpoints subscribed to the alert topic: a pager or chat integration that confirms SNS subscriptions itself (PagerDuty, Opsgenie, a chat bridge). Sensitive: such URLs carry a token."
  type        = list(string)
  default     = []
  sensitive   = true

  validation {
    condition     = alltrue([for u in var.alert_https_endpoints : can(regex("^https://[^ ]+$", u))])
    error_message = "Every alert_https_endpoints entry must be an https:// URL (SNS would send alerts in clear text over http)."
  }
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
  description = "Narrows the ALB alarms to one load balancer (`app/<name>/<id>`). Not needed: null alarms on the load-balancer metrics of every ALB in the account and region, which per environment is the one the Load Balancer Controller creates for the IngressGroup, so the alarms exist before that ALB does."
  type        = string
  default     = null

  validation {
    condition     = var.alb_arn_suffix == null || can(regex("^app/[^/]+/[0-9a-f]+$", var.alb_arn_suffix))
    error_message = "Give the ALB's ARN suffix, e.g. app/k8s-transact-xxxx/0123456789abcdef."
  }
}

variable "alb_5xx_ratio_percent" {
  description = "Share of the ALB's requests answered 5xx (ELB and target together), in percent, that pages."
  type        = number
  default     = 1

  validation {
    condition     = var.alb_5xx_ratio_percent > 0 && var.alb_5xx_ratio_percent < 100
    error_message = "Give a percentage between 0 and 100 (exclusive)."
  }
}

variable "alb_5xx_min_requests_per_minute" {
  description = "Requests a minute below which the 5xx ratio is not evaluated (one failed probe is not an outage)."
  type        = number
  default     = 30

  validation {
    condition     = var.alb_5xx_min_requests_per_minute >= 1
    error_message = "The minimum request count must be at least 1 (the ratio divides by it)."
  }
}

variable "alb_average_latency_seconds" {
  description = "Average ALB target response time (seconds) that pages."
  type        = number
  default     = 0.2
}

variable "etl_metric_namespace" {
  description = "CloudWatch namespace of the FX-rates ETL's EMF metrics (svc/internal/fxrates MetricNamespace)."
  type        = string
  default     = "TransactionValidator/FxRatesEtl"
}

variable "etl_attempts" {
  description = "Pods one FX-rates ETL run may use: the CronJob's backoffLimit + 1. That many failed attempts within two hours page."
  type        = number
  default     = 3

  validation {
    condition     = var.etl_attempts >= 1
    error_message = "A run has at least one attempt."
  }
}

variable "etl_max_hours_without_success" {
  description = "Hours without a successful FX-rates ETL run that page. The job runs on weekdays, so this must cover a weekend: Friday's run to Monday's is 72 h, plus the run's own hour and some slack."
  type        = number
  default     = 76

  validation {
    # Hourly periods: CloudWatch evaluates at most 7 days of them.
    condition     = var.etl_max_hours_without_success >= 74 && var.etl_max_hours_without_success <= 168
    error_message = "Between 74 h (a weekend plus the run's hour) and 168 h (CloudWatch's evaluation limit)."
  }
}

variable "logs_metric_namespace" {
  description = "CloudWatch namespace of the metrics taken from the application logs (PanRedactedRecords)."
  type        = string
  default     = "TransactionValidator/Logs"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
