# dev: smallest footprint that still has the production topology (3 AZs, multi-AZ data
# stores, same security controls). Holds synthetic test data only, never real PANs.
# Rough cost: ~$480/month (table in infra/modules/platform/README.md).

environment = "dev"

region = "eu-central-1"
azs    = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]

vpc_cidr = "10.10.0.0/16"

# Trade-off: one NAT gateway (~$38/month + data) instead of three. An outage of its AZ cuts
# egress (ECR pulls, AWS APIs) for the whole cluster; acceptable for dev.
single_nat_gateway = true

kubernetes_version = "1.35"

# Spot Graviton nodes (~70% cheaper than on-demand); pods must tolerate interruptions,
# which dev is there to prove anyway. Two instance types widen the spot pools.
node_groups = {
  default = {
    instance_types = ["m7g.large", "m6g.large"]
    capacity_type  = "SPOT"
    # Per AZ. The validator runs one pod per node (high-availability component): HPA max 3,
    # plus the canary and the surge pod of a release = 5 pods, so 2 nodes per AZ at most.
    min_size_per_az     = 0
    desired_size_per_az = 1
    max_size_per_az     = 2
    labels              = { workload = "general" }
  }
}

# Throwaway environment: it must be possible to destroy it.
deletion_protection = false

# Burstable instances: enough for functional tests, not for load tests. Still two
# instances, because failover is part of what dev tests.
# "password": `deploy --env local` builds dev's overlay on a cluster without AWS, so dev
# keeps components/database-password until local deploys have their own overlay
# (infra/modules/aurora/README.md, "Switching to IAM").
database_client_auth = "password"

aurora_instance_class                      = "db.t4g.medium"
aurora_instance_count                      = 2
aurora_backup_retention_days               = 7
aurora_performance_insights_retention_days = 7

# One shard with one replica in another AZ: cluster mode and failover behave as in prod.
redis_node_type          = "cache.t4g.small"
redis_num_shards         = 1
redis_replicas_per_shard = 1

etl_bucket_name = "transaction-validator-dev-etl-data"
# CloudTrail and AWS Config of the account (modules/audit).
audit_bucket_name = "transaction-validator-dev-audit"

# Issued outside Terraform (DNS validation), then set here: null until it exists.
acm_certificate_arn = null
# No alb_arn_suffix: the ALB alarms watch the account's ALB (the Load Balancer Controller's)
# from the first apply on, before it exists.

alert_emails = []

# No cross-region copies: dev holds synthetic data only (dr stays { enabled = false }).

# Even dev keeps a year of logs: the modules enforce one retention policy everywhere, and
# the volume is small.
log_retention_days = 365

# Short recovery windows so a torn-down dev can be rebuilt under the same names quickly.
secret_recovery_window_days = 7
kms_deletion_window_days    = 7

tags = {
  CostCenter         = "payments-platform"
  DataClassification = "synthetic"
}

# Throwaway: tofu destroy may empty and delete the ETL bucket and its access logs, and the
# audit bucket with its CloudTrail and Config logs.
etl_bucket_force_destroy   = true
audit_bucket_force_destroy = true

# CI identities (identities.tf). The account is this environment's own (ECR repository
# names, and so the registry, are per account), so it holds its own GitHub OIDC provider.
ci_github_repository           = "transaction-validator/transaction-validator"
ci_create_github_oidc_provider = true
ci_state_bucket_name           = "transaction-validator-tfstate-dev"
# The root creates IAM roles, KMS keys and the cluster itself: its apply needs an
# administrator's rights. Only jobs of the protected GitHub environment "dev" get them.
# Synthetic data only: the plan role may read the passwords Terraform generates (exactly
# those secrets), so that plans of pull requests can refresh them (infra/README.md).
ci_plan_reads_terraform_written_secrets = true
ci_apply_policy_arns                    = ["arn:aws:iam::aws:policy/AdministratorAccess"]
# Break-glass cluster admin (MFA): sessions of at most 4 hour(s).
cluster_admin_role_max_session_hours = 4
