# dev saves money where an outage only costs developer time.
# Runs this root with dev.tfvars against a mocked AWS provider:
#   tofu test -var-file=dev.tfvars -filter=tests/dev.tftest.hcl
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

# The account guard is per environment and not committed (TF_VAR_allowed_account_ids at plan
# time): this stands in for it.
variables {
  allowed_account_ids = ["123456789012"]
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

run "dev_is_cheap_but_multi_az" {
  # Guards the invocation: these assertions are about dev.tfvars, not another environment's.
  assert {
    condition     = var.environment == "dev"
    error_message = "Run with dev.tfvars: tofu test -var-file=dev.tfvars -filter=tests/dev.tftest.hcl"
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
    error_message = "dev runs password logins: the iam URLs must be null and both DATABASE_URL secrets exist."
  }

  assert {
    condition     = output.nat_gateway_count == 1
    error_message = "dev uses a single NAT gateway."
  }

  assert {
    condition     = var.aurora_instance_count >= 2 && var.redis_replicas_per_shard >= 1
    error_message = "Even dev keeps multi-AZ data stores (failover is part of what it tests)."
  }

  assert {
    condition     = var.deletion_protection == false
    error_message = "dev must stay destroyable."
  }

  # The subscriber rule is prod's alone: dev.tfvars has none and still plans.
  assert {
    condition     = length(var.alert_emails) == 0 && length(var.alert_https_endpoints) == 0
    error_message = "dev.tfvars is expected to carry no alert subscriber (this run shows dev plans without one)."
  }

  assert {
    condition     = !var.dr.enabled && module.platform.dr_backup == null
    error_message = "dev holds synthetic data only: no cross-region copies."
  }
}

# identities.tf with dev.tfvars: this environment's CI roles trust only this repository and,
# for apply and deploy, only the GitHub environment "dev"; deploys reach the private API
# through the tunnel; the break-glass admin needs MFA and is the cluster-admin entry.
run "dev_ci_identities_and_cluster_access" {
  command = plan

  assert {
    condition = module.ci_identities.role_subjects == {
      plan         = ["repo:transaction-validator/transaction-validator:pull_request", "repo:transaction-validator/transaction-validator:ref:refs/heads/main"]
      publish      = ["repo:transaction-validator/transaction-validator:ref:refs/heads/main"]
      "apply-dev"  = ["repo:transaction-validator/transaction-validator:environment:dev"]
      "deploy-dev" = ["repo:transaction-validator/transaction-validator:environment:dev"]
    }
    error_message = "dev's CI roles: plan (PRs, main), publish (main), apply and deploy (GitHub environment dev only)."
  }

  assert {
    condition     = module.ci_identities.deploy_role_names == tomap({ dev = "tv-dev-ci-deploy-dev" })
    error_message = "One deploy role, for dev."
  }

  assert {
    condition     = module.ci_identities.plan_lock_object_key == "${regex("(?m)^key\\s*=\\s*\"([^\"]+)\"", file("dev.s3.tfbackend"))[0]}.tflock"
    error_message = "The plan role's lock rights must be on the lock object of dev.s3.tfbackend's state key."
  }

  assert {
    condition     = output.eks_api_tunnel_tag == { key = "eks-api-tunnel", value = "tv-dev" }
    error_message = "The tunnel host is tagged for dev's workflow to find."
  }

  assert {
    condition = (
      output.signing_kms_key == "awskms:///alias/tv-dev/image-signing" &&
      module.ci_identities.image_signers.sign == tolist(["arn:aws:iam::123456789012:role/tv-dev-ci-publish"]) &&
      module.ci_identities.image_signers.verify == tolist(["arn:aws:iam::123456789012:role/tv-dev-ci-deploy-dev"])
    )
    error_message = "dev's image-signing key (SIGNING_KMS_KEY): dev's publish role signs, its deploy role only verifies."
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
    error_message = "dev's admin access entry is the break-glass role's, as cluster admin."
  }
}

# Synthetic data: the plan role may refresh the secrets Terraform writes (Redis, and the
# database users' two secrets each in "password" mode), exactly those.
run "dev_plan_role_refreshes_terraform_written_secrets" {
  command = plan

  assert {
    condition     = length(module.ci_identities.plan_readable_secret_arns) == 5
    error_message = "The plan role must read exactly the 5 Terraform-written secrets (Redis; credentials and URL of 2 database users)."
  }
}
