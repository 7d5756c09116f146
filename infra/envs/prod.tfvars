# prod: cardholder-data environment (PCI DSS). Every tier survives the loss of one AZ.
# Rough cost: ~$3,520/month at baseline (table in infra/modules/platform/README.md).

environment = "prod"

region = "eu-central-1"
azs    = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]

vpc_cidr = "10.30.0.0/16"

# One NAT gateway per AZ (~$115/month + data): an AZ outage cannot cut egress of the others.
single_nat_gateway = false

kubernetes_version = "1.35"

# On-demand only: spot interruptions are not acceptable in the payment path. One node per AZ
# minimum; the cluster autoscaler adds up to 12 under load.
node_groups = {
  default = {
    instance_types = ["m7g.xlarge"]
    capacity_type  = "ON_DEMAND"
    # Per AZ. One validator pod per node: HPA max 24 + canary + surge = 26 pods, so 9 nodes
    # per AZ, plus one spare for a node being replaced (tests/prod.tftest.hcl checks the room).
    min_size_per_az     = 2
    desired_size_per_az = 2
    max_size_per_az     = 10
    disk_size_gb        = 80
    labels              = { workload = "general" }
  }
}

# EKS and Aurora refuse deletion until this is switched off in a reviewed change.
deletion_protection = true

# Writer + two readers, one per AZ: a failover target is always in another zone and reads
# scale out.
# "iam" is ready (STS endpoint, kustomize components/database-iam); switching is one
# reviewed change plus a manual GRANT: infra/modules/aurora/README.md, "Switching to IAM".
database_client_auth = "password"

aurora_instance_class                      = "db.r7g.xlarge"
aurora_instance_count                      = 3
aurora_backup_retention_days               = 7
aurora_performance_insights_retention_days = 31

# Two shards (write throughput and memory scale out), two replicas each (one per other AZ).
redis_node_type          = "cache.r7g.large"
redis_num_shards         = 2
redis_replicas_per_shard = 2

# WAF per-IP flood guard: the module default (300,000 per 5 min = 1,000 req/s), above what one
# payment gateway sends at the service's own limit; 2,000 per 5 min blocked one at 6.7 req/s.

etl_bucket_name = "transaction-validator-prod-etl-data"
# CloudTrail and AWS Config of the account (modules/audit).
audit_bucket_name = "transaction-validator-prod-audit"

acm_certificate_arn = null

# Alert subscribers are not committed here: give the on-call address(es) as
# TF_VAR_alert_emails='["..."]' and/or a pager/chat integration as
# TF_VAR_alert_https_endpoints (its URL carries a token), or through the pipeline as the
# secret var file of `plan`/`apply --alert-subscribers` (README.md). prod refuses to plan
# without one (variables.tf; tests/prod.tftest.hcl).

# Disaster recovery (docs/disaster-recovery.md): Aurora and the ETL bucket backed up every
# 4 h and copied to eu-west-1, both vaults locked for good (compliance mode, after a 3-day
# grace period) for 35 days; the secrets replicated there. A region loss costs at most the
# last 4 h of the audit log plus the copy time.
dr_region = "eu-west-1"
dr        = { enabled = true, backup_lock_mode = "compliance" }

log_retention_days = 365

secret_recovery_window_days = 30
kms_deletion_window_days    = 30

tags = {
  CostCenter         = "payments-platform"
  DataClassification = "pci-cde"
}

# CI identities (identities.tf). The account is this environment's own (ECR repository
# names, and so the registry, are per account), so it holds its own GitHub OIDC provider.
ci_github_repository           = "transaction-validator/transaction-validator"
ci_create_github_oidc_provider = true
ci_state_bucket_name           = "transaction-validator-tfstate-prod"
# The root creates IAM roles, KMS keys and the cluster itself: its apply needs an
# administrator's rights. Only jobs of the protected GitHub environment "prod" get them.
ci_apply_policy_arns = ["arn:aws:iam::aws:policy/AdministratorAccess"]
# Break-glass cluster admin (MFA): sessions of at most 1 hour(s).
cluster_admin_role_max_session_hours = 1
