# The HA and protection choices of prod must not regress.
# Runs this root with prod.tfvars against a mocked AWS provider:
#   tofu test -var-file=prod.tfvars -filter=tests/prod.tftest.hcl
# The provider still validates arguments, so mocked ARNs, ids and policy JSON must look real.
mock_provider "aws" {
  # identities.tf: the CI roles' state key and the EKS API tunnel host.
  mock_data "aws_kms_alias" {
    defaults = { target_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/99999999-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  # AWS Config's recorder (modules/audit) takes the service-linked role's ARN.
  mock_resource "aws_iam_service_linked_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-central-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-central-1:123456789012:mock" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:mock-AbCdEf" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = { arn = "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/mock/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-central-1:123456789012:repository/mock"
      repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mock"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-central-1:123456789012:cluster/mock"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }] }]
      certificate_authority = [{ data = "LS0tLS1CRUdJTi0tLS0t" }]
    }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }
  mock_resource "aws_eks_node_group" {
    defaults = {
      resources = [{ autoscaling_groups = [{ name = "eks-default-asg" }], remote_access_security_group_id = "" }]
    }
  }
  mock_resource "aws_db_proxy" {
    defaults = {
      arn      = "arn:aws:rds:eu-central-1:123456789012:db-proxy:prx-0123456789abcdef0"
      endpoint = "tv-test.proxy-abc.eu-central-1.rds.amazonaws.com"
    }
  }
  mock_resource "aws_rds_cluster" {
    defaults = {
      arn                 = "arn:aws:rds:eu-central-1:123456789012:cluster:mock"
      endpoint            = "tv-test.cluster-abc.eu-central-1.rds.amazonaws.com"
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret  = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      arn                            = "arn:aws:elasticache:eu-central-1:123456789012:replicationgroup:mock"
      configuration_endpoint_address = "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    }
  }
}

# The disaster-recovery region (provider aws.dr): backup copies and secret replicas.
mock_provider "aws" {
  alias = "dr"

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-3333-4444-555555555555", key_id = "66666666-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:eu-west-1:123456789012:backup-vault:mock-dr" }
  }
}

# prod.tfvars commits no subscriber (TF_VAR_alert_emails or TF_VAR_alert_https_endpoints at
# plan time): these stand in for them.
variables {
  allowed_account_ids   = ["123456789012"]
  alert_emails          = ["oncall@example.com"]
  alert_https_endpoints = ["https://events.example.com/integration/0123456789abcdef/enqueue"]
}

# With no subscriber at all, prod must not even plan: every alarm would reach nobody.
run "prod_refuses_to_plan_without_alert_subscriber" {
  command = plan

  variables {
    alert_emails          = []
    alert_https_endpoints = []
  }

  expect_failures = [var.alert_emails]
}

# One kind of subscriber is enough: a pager integration alone, no e-mail.
run "prod_plans_with_a_pager_endpoint_only" {
  command = plan

  variables {
    alert_emails = []
  }
}

run "prod_is_highly_available_and_protected" {
  # Guards the invocation: these assertions are about prod.tfvars, not another environment's.
  assert {
    condition     = var.environment == "prod"
    error_message = "Run with prod.tfvars: tofu test -var-file=prod.tfvars -filter=tests/prod.tftest.hcl"
  }

  # Still "password": the committed overlay lists components/database-password, which
  # builds only on password-mode outputs. Switching changes this assertion with the tfvars
  # and the overlay (infra/modules/aurora/README.md, "Switching to IAM").
  assert {
    condition = (
      var.database_client_auth == "password" &&
      output.database_iam_url == null && output.operator_console_database_iam_url == null &&
      output.database_url_secret_name != null && output.operator_console_database_url_secret_name != null
    )
    error_message = "prod runs password logins: the iam URLs must be null and both DATABASE_URL secrets exist."
  }

  assert {
    condition     = output.nat_gateway_count == 3
    error_message = "prod must have one NAT gateway per AZ."
  }

  assert {
    condition     = var.deletion_protection == true
    error_message = "prod must keep deletion protection on EKS and Aurora."
  }

  assert {
    condition     = var.aurora_instance_count >= 3 && var.redis_replicas_per_shard >= 2
    error_message = "prod needs an Aurora instance and a Redis replica in every AZ."
  }

  assert {
    condition     = alltrue([for g in values(var.node_groups) : g.capacity_type == "ON_DEMAND" && g.min_size_per_az >= 1])
    error_message = "prod nodes must be on-demand with at least one per AZ."
  }

  # The validator runs one pod per node (high-availability component): prod's HPA max of 24,
  # plus the canary and the surge pod of a release, must fit on the node groups at their max.
  assert {
    condition     = sum([for g in values(var.node_groups) : g.max_size_per_az * 3]) >= 24 + 2
    error_message = "prod's node groups cannot hold the HPA's 24 validator pods plus a release's canary and surge pod."
  }

  assert {
    condition     = var.log_retention_days >= 365 && var.aurora_backup_retention_days >= 7
    error_message = "prod keeps logs >= 1 year and backups >= 7 days."
  }

  assert {
    condition = (
      var.dr.enabled && var.dr.backup_lock_mode == "compliance" && var.dr_region != var.region &&
      module.platform.dr_backup.region == var.dr_region
    )
    error_message = "prod must copy its backups to another region, into vaults locked in compliance mode."
  }

  assert {
    condition     = !var.audit_bucket_force_destroy && var.audit_bucket_name == "transaction-validator-prod-audit"
    error_message = "prod's audit logs (CloudTrail, AWS Config) are evidence: its audit bucket is never force-destroyed."
  }
}

# identities.tf with prod.tfvars: this environment's CI roles trust only this repository and,
# for apply and deploy, only the GitHub environment "prod"; deploys reach the private API
# through the tunnel; the break-glass admin needs MFA and is the cluster-admin entry.
run "prod_ci_identities_and_cluster_access" {
  command = plan

  assert {
    condition = module.ci_identities.role_subjects == {
      plan          = ["repo:transaction-validator/transaction-validator:pull_request", "repo:transaction-validator/transaction-validator:ref:refs/heads/main"]
      publish       = ["repo:transaction-validator/transaction-validator:ref:refs/heads/main"]
      "apply-prod"  = ["repo:transaction-validator/transaction-validator:environment:prod"]
      "deploy-prod" = ["repo:transaction-validator/transaction-validator:environment:prod"]
    }
    error_message = "prod's CI roles: plan (PRs, main), publish (main), apply and deploy (GitHub environment prod only)."
  }

  assert {
    condition     = module.ci_identities.deploy_role_names == tomap({ prod = "tv-prod-ci-deploy-prod" })
    error_message = "One deploy role, for prod."
  }

  assert {
    condition     = module.ci_identities.plan_lock_object_key == "${regex("(?m)^key\\s*=\\s*\"([^\"]+)\"", file("prod.s3.tfbackend"))[0]}.tflock"
    error_message = "The plan role's lock rights must be on the lock object of prod.s3.tfbackend's state key."
  }

  assert {
    condition     = output.eks_api_tunnel_tag == { key = "eks-api-tunnel", value = "tv-prod" }
    error_message = "The tunnel host is tagged for prod's workflow to find."
  }

  assert {
    condition = (
      output.signing_kms_key == "awskms:///alias/tv-prod/image-signing" &&
      module.ci_identities.image_signers.sign == tolist(["arn:aws:iam::123456789012:role/tv-prod-ci-publish"]) &&
      module.ci_identities.image_signers.verify == tolist(["arn:aws:iam::123456789012:role/tv-prod-ci-deploy-prod"])
    )
    error_message = "prod's image-signing key (SIGNING_KMS_KEY): prod's publish role signs, its deploy role only verifies."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.cluster_admin_trust.statement :
      toset(s.actions) == toset(["sts:AssumeRole"]) &&
      alltrue([for p in s.principals : p.type == "AWS" && toset(p.identifiers) == toset(["arn:aws:iam::123456789012:root"])]) &&
      anytrue([for c in s.condition : c.test == "Bool" && c.variable == "aws:MultiFactorAuthPresent" && toset(c.values) == toset(["true"])])
    ])
    error_message = "The break-glass admin role: this account's identities only, with MFA."
  }

  assert {
    condition = (
      aws_eks_access_policy_association.cluster_admin.policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy" &&
      aws_eks_access_policy_association.cluster_admin.access_scope[0].type == "cluster" &&
      aws_eks_access_entry.cluster_admin.type == "STANDARD"
    )
    error_message = "prod's admin access entry is the break-glass role's, as cluster admin."
  }
}

# The provider's account guard is required and takes only 12-digit account ids.
run "refuses_to_run_without_an_account_guard" {
  command = plan

  variables {
    allowed_account_ids = []
  }

  expect_failures = [var.allowed_account_ids]
}

run "refuses_a_malformed_account_id" {
  command = plan

  variables {
    allowed_account_ids = ["12345678901", "arn:aws:iam::123456789012:root"]
  }

  expect_failures = [var.allowed_account_ids]
}

# Pull requests assume the plan role: in prod it reads no secret value, and cannot be made to.
run "prod_plan_role_reads_no_password" {
  command = plan

  assert {
    condition     = length(module.ci_identities.plan_readable_secret_arns) == 0
    error_message = "prod's plan role must read no secret value."
  }
}

run "prod_refuses_plan_role_secret_reads" {
  command = plan

  variables {
    ci_plan_reads_terraform_written_secrets = true
  }

  expect_failures = [var.ci_plan_reads_terraform_written_secrets]
}
