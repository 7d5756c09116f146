# The provider still validates arguments, so mocked ARNs, ids and policy JSON must look real.
mock_provider "aws" {
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

variables {
  name                        = "tv-test"
  kubernetes_version          = "1.35"
  subnet_ids                  = ["subnet-a", "subnet-b", "subnet-c"]
  node_subnet_ids             = { "eu-central-1a" = "subnet-a", "eu-central-1b" = "subnet-b", "eu-central-1c" = "subnet-c" }
  cluster_security_group_id   = "sg-cluster"
  node_security_group_id      = "sg-nodes"
  secrets_kms_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  ebs_kms_key_arn             = "arn:aws:kms:eu-central-1:123456789012:key/data"
  logs_kms_key_arn            = "arn:aws:kms:eu-central-1:123456789012:key/logs"
  secrets_manager_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  node_groups = {
    default = {
      instance_types      = ["m7g.large"]
      min_size_per_az     = 1
      max_size_per_az     = 9
      desired_size_per_az = 1
      labels              = { workload = "general" }
    }
  }
}

run "private_encrypted_logged_control_plane" {
  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_private_access && !aws_eks_cluster.this.vpc_config[0].endpoint_public_access
    error_message = "The Kubernetes API must be private."
  }

  assert {
    condition = (
      toset(aws_eks_cluster.this.encryption_config[0].resources) == toset(["secrets"]) &&
      aws_eks_cluster.this.encryption_config[0].provider[0].key_arn == var.secrets_kms_key_arn
    )
    error_message = "Kubernetes Secrets must be envelope-encrypted with the customer-managed key."
  }

  assert {
    condition     = length(setsubtract(["api", "audit", "authenticator", "controllerManager", "scheduler"], aws_eks_cluster.this.enabled_cluster_log_types)) == 0
    error_message = "All five control-plane log types must be enabled."
  }

  assert {
    condition     = aws_cloudwatch_log_group.cluster.retention_in_days >= 365 && aws_cloudwatch_log_group.cluster.kms_key_id == var.logs_kms_key_arn
    error_message = "Control-plane (audit) logs must be kept >= 1 year and encrypted."
  }

  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API" && !aws_eks_cluster.this.access_config[0].bootstrap_cluster_creator_admin_permissions
    error_message = "Cluster access must go through explicit access entries only."
  }

  assert {
    condition     = aws_iam_openid_connect_provider.this.url == aws_eks_cluster.this.identity[0].oidc[0].issuer && toset(aws_iam_openid_connect_provider.this.client_id_list) == toset(["sts.amazonaws.com"])
    error_message = "The IRSA OIDC provider must trust the cluster's issuer for STS."
  }
}

run "hardened_nodes" {
  assert {
    condition = alltrue([
      for lt in aws_launch_template.node :
      lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 1
    ])
    error_message = "Nodes must enforce IMDSv2 with a hop limit of 1 (pods use IRSA, not the node role)."
  }

  assert {
    condition = alltrue([
      for lt in aws_launch_template.node :
      lt.block_device_mappings[0].ebs[0].encrypted == "true" && lt.block_device_mappings[0].ebs[0].kms_key_id == var.ebs_kms_key_arn
    ])
    error_message = "Node volumes must be encrypted with the customer-managed key."
  }

  assert {
    condition     = aws_autoscaling_group_tag.autoscaler_labels["default-eu-central-1a/workload"].tag[0].key == "k8s.io/cluster-autoscaler/node-template/label/workload"
    error_message = "Node labels must be published to the cluster autoscaler as ASG tags."
  }
}

run "controller_roles_exist" {
  assert {
    condition     = output.cluster_autoscaler_role_arn != null && output.load_balancer_controller_role_arn != null && output.external_secrets_role_arn != null
    error_message = "The autoscaler, load balancer controller and external-secrets roles must be created."
  }

  assert {
    condition     = output.oidc_issuer_host == "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    error_message = "IRSA condition keys need the issuer without its scheme."
  }
}

run "rejects_short_audit_log_retention" {
  command = plan

  variables {
    log_retention_days = 90
  }

  expect_failures = [var.log_retention_days]
}

# The zone spread (`minDomains: 3`) and the one-validator-per-node rule need the autoscaler
# to add a node in a *given* zone: one managed node group per AZ, each in its AZ's subnet
# only, sized per AZ, and tagged with its zone for scale-from-zero.
run "one_node_group_per_az" {
  command = plan

  assert {
    condition     = toset(keys(aws_eks_node_group.this)) == toset(["default-eu-central-1a", "default-eu-central-1b", "default-eu-central-1c"])
    error_message = "Each node group must exist once per AZ."
  }

  assert {
    condition = alltrue([
      for az, subnet in var.node_subnet_ids : aws_eks_node_group.this["default-${az}"].subnet_ids == toset([subnet])
    ])
    error_message = "Each per-AZ node group must use its own AZ's subnet only."
  }

  assert {
    condition = alltrue([
      for ng in aws_eks_node_group.this :
      ng.scaling_config[0].min_size == 1 && ng.scaling_config[0].max_size == 9 && ng.scaling_config[0].desired_size == 1
    ])
    error_message = "Sizes are per AZ: min/max/desired of every per-AZ group must be the *_per_az values."
  }

  assert {
    condition = alltrue([
      for az in keys(var.node_subnet_ids) :
      aws_autoscaling_group_tag.autoscaler_labels["default-${az}/topology.kubernetes.io/zone"].tag[0].value == az
    ])
    error_message = "Each per-AZ group must tell the autoscaler its zone (scale-from-zero for zone-spread pods)."
  }
}

run "rejects_min_above_max" {
  command = plan

  variables {
    node_groups = {
      default = { instance_types = ["m7g.large"], min_size_per_az = 3, max_size_per_az = 2, desired_size_per_az = 3 }
    }
  }

  expect_failures = [var.node_groups]
}

# Without the network policy agent the VPC CNI ignores every NetworkPolicy of kustomize/.
run "network_policies_are_enforced" {
  command = plan

  assert {
    condition     = jsondecode(aws_eks_addon.vpc_cni.configuration_values).enableNetworkPolicy == "true"
    error_message = "The vpc-cni add-on must run with enableNetworkPolicy = \"true\"."
  }
}

# The CNI's ENI/IP permissions belong to aws-node alone (IRSA), not to every pod through
# the node role.
run "cni_permissions_through_irsa" {
  assert {
    condition     = aws_eks_addon.vpc_cni.service_account_role_arn == module.vpc_cni_irsa.role_arn && output.vpc_cni_role_arn != null
    error_message = "The vpc-cni add-on must run with its own IRSA role."
  }

  assert {
    condition     = alltrue([for a in aws_iam_role_policy_attachment.node : !endswith(a.policy_arn, "/AmazonEKS_CNI_Policy")])
    error_message = "AmazonEKS_CNI_Policy must not be on the node role."
  }
}

# Standard support only (no extended-support fee, no version upstream has stopped patching),
# and the version's end of standard support is known.
run "standard_support_upgrade_policy" {
  command = plan

  variables {
    standard_support_end_dates = { "1.35" = "2999-01-01" }
  }

  assert {
    condition     = aws_eks_cluster.this.upgrade_policy[0].support_type == "STANDARD"
    error_message = "The cluster must stay on EKS standard support (upgrade_policy STANDARD)."
  }
}

run "rejects_unknown_support_type" {
  command = plan

  variables {
    support_type = "LONG_TERM"
  }

  expect_failures = [var.support_type]
}

run "refuses_a_version_without_a_support_calendar_entry" {
  command = plan

  variables {
    kubernetes_version = "1.99"
  }

  expect_failures = [aws_eks_cluster.this]
}

run "warns_once_standard_support_has_ended" {
  command = plan

  variables {
    standard_support_end_dates = { "1.35" = "2020-01-01" }
  }

  expect_failures = [check.kubernetes_version_in_standard_support]
}
