# staging: production topology and HA at smaller sizes, so that failover drills, upgrades
# and load tests behave as in prod. Holds synthetic data only.
# Rough cost: ~$1,380/month (table in infra/modules/platform/README.md).

environment = "staging"

region = "eu-central-1"
azs    = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]

vpc_cidr = "10.20.0.0/16"

# One NAT gateway per AZ, as in prod: AZ-failure drills must not lose egress.
single_nat_gateway = false

kubernetes_version = "1.35"

node_groups = {
  default = {
    instance_types = ["m7g.large"]
    capacity_type  = "ON_DEMAND"
    # Per AZ. One validator pod per node: HPA max 6 + canary + surge = 8 pods, so 3 nodes
    # per AZ, plus one spare for a node being replaced.
    min_size_per_az     = 1
    desired_size_per_az = 1
    max_size_per_az     = 4
    labels              = { workload = "general" }
  }
}

deletion_protection = false

# Same instance family as prod (r7g), one size down: query plans and memory behaviour match.
# "iam" is ready (STS endpoint, kustomize components/database-iam); switching is one
# reviewed change plus a manual GRANT: infra/modules/aurora/README.md, "Switching to IAM".
database_client_auth = "password"

aurora_instance_class                      = "db.r7g.large"
aurora_instance_count                      = 2
aurora_backup_retention_days               = 7
aurora_performance_insights_retention_days = 7

redis_node_type          = "cache.r7g.large"
redis_num_shards         = 1
redis_replicas_per_shard = 1

# WAF per-IP flood guard: the module default (300,000 per 5 min = 1,000 req/s), above what one
# payment gateway sends at the service's own limit; 2,000 per 5 min blocked one at 6.7 req/s.

etl_bucket_name = "transaction-validator-staging-etl-data"
# CloudTrail and AWS Config of the account (modules/audit).
audit_bucket_name = "transaction-validator-staging-audit"

acm_certificate_arn = null

alert_emails = []

# Disaster recovery as in prod, so the restore drill from the DR region can be rehearsed
# here (docs/disaster-recovery.md); governance mode, so a rehearsal's settings can change.
dr_region = "eu-west-1"
dr        = { enabled = true }

log_retention_days = 365

secret_recovery_window_days = 30
kms_deletion_window_days    = 30

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
ci_state_bucket_name           = "transaction-validator-tfstate-staging"
# The root creates IAM roles, KMS keys and the cluster itself: its apply needs an
# administrator's rights. Only jobs of the protected GitHub environment "staging" get them.
# Synthetic data only: the plan role may read the passwords Terraform generates (exactly
# those secrets), so that plans of pull requests can refresh them (infra/README.md).
ci_plan_reads_terraform_written_secrets = true
ci_apply_policy_arns                    = ["arn:aws:iam::aws:policy/AdministratorAccess"]
# Break-glass cluster admin (MFA): sessions of at most 2 hour(s).
cluster_admin_role_max_session_hours = 2
