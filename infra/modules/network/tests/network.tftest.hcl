# Offline tests: the AWS provider is mocked, so these check what the module asks AWS for.
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

# The mock gives every instance of a resource type the same id, so the security groups get
# distinct ids here; without them the rules below could not tell the tiers apart.
override_resource {
  target = aws_security_group.alb
  values = { id = "sg-alb" }
}

override_resource {
  target = aws_security_group.eks_cluster
  values = { id = "sg-eks-cluster" }
}

override_resource {
  target = aws_security_group.eks_nodes
  values = { id = "sg-eks-nodes" }
}

override_resource {
  target = aws_security_group.rds_proxy
  values = { id = "sg-rds-proxy" }
}

override_resource {
  target = aws_security_group.aurora
  values = { id = "sg-aurora" }
}

override_resource {
  target = aws_security_group.redis
  values = { id = "sg-redis" }
}

override_resource {
  target = aws_security_group.vpc_endpoints
  values = { id = "sg-vpc-endpoints" }
}

# Per tier, so the endpoint's placement can be told apart.
override_resource {
  target = aws_subnet.private
  values = { id = "subnet-private" }
}

override_resource {
  target = aws_subnet.database
  values = { id = "subnet-database" }
}

variables {
  name                  = "tv-test"
  cluster_name          = "tv-test"
  vpc_cidr              = "10.0.0.0/16"
  azs                   = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  public_subnet_cidrs   = ["10.0.96.0/24", "10.0.97.0/24", "10.0.98.0/24"]
  private_subnet_cidrs  = ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
  database_subnet_cidrs = ["10.0.112.0/24", "10.0.113.0/24", "10.0.114.0/24"]
  single_nat_gateway    = false
  cluster_admin_cidrs   = ["10.99.0.0/16"]
  logs_kms_key_arn      = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "prod_topology_one_nat_per_az" {
  # (Which NAT gateway each route uses cannot be checked here: all mocked NAT gateways share
  # one id. The count of gateways, EIPs and default routes can.)
  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3 && length(aws_route.private_nat) == 3
    error_message = "Expected one NAT gateway (and Elastic IP) per AZ and a default route per private subnet."
  }

  assert {
    condition = alltrue([
      for tier in [aws_subnet.public, aws_subnet.private, aws_subnet.database] :
      length(distinct(tier[*].availability_zone)) == 3
    ])
    error_message = "Every tier must span three availability zones."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Public subnets must not hand out public IPs automatically."
  }

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_flow_log.this.vpc_id == aws_vpc.this.id
    error_message = "VPC flow logs must record all traffic of the VPC."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.retention_in_days >= 365 && aws_cloudwatch_log_group.flow_logs.kms_key_id == var.logs_kms_key_arn
    error_message = "Flow logs must be kept >= 1 year (PCI DSS 10.5.1) and KMS-encrypted."
  }
}

run "no_internet_ingress_except_alb_https" {
  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.internal) :
      r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.referenced_security_group_id != null
    ])
    error_message = "Rules between tiers must reference security groups, never CIDRs."
  }

  assert {
    condition     = alltrue([for r in values(aws_vpc_security_group_ingress_rule.cluster_from_admin) : r.cidr_ipv4 != "0.0.0.0/0"])
    error_message = "The Kubernetes API must not be reachable from 0.0.0.0/0."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.alb_https.security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.alb_https.from_port == 443 &&
      aws_vpc_security_group_ingress_rule.alb_https.to_port == 443 &&
      aws_vpc_security_group_ingress_rule.alb_https.ip_protocol == "tcp"
    )
    error_message = "The only internet-facing ingress rule must be HTTPS (443) on the ALB."
  }

  # The Ingresses listen on 80 too (ssl-redirect): the ALB must accept it, and only it.
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.alb_http_redirect.security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.alb_http_redirect.from_port == 80 &&
      aws_vpc_security_group_ingress_rule.alb_http_redirect.to_port == 80 &&
      aws_vpc_security_group_ingress_rule.alb_http_redirect.ip_protocol == "tcp"
    )
    error_message = "The ALB must accept HTTP on 80 (redirect listener), on the ALB group only."
  }

  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_egress_rule.internal) :
      r.from_port == 8080 && r.referenced_security_group_id == aws_security_group.eks_nodes.id
      if r.security_group_id == aws_security_group.alb.id
    ])
    error_message = "The ALB forwards only to the pods' port 8080 (port 80 is a redirect, never forwarded)."
  }

  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.internal) :
      r.referenced_security_group_id == aws_security_group.rds_proxy.id && r.from_port == 5432
      if r.security_group_id == aws_security_group.aurora.id
    ])
    error_message = "Aurora may only be reached from RDS Proxy on 5432."
  }

  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.internal) :
      r.referenced_security_group_id == aws_security_group.eks_nodes.id && r.from_port == 6379
      if r.security_group_id == aws_security_group.redis.id
    ])
    error_message = "Redis may only be reached from the EKS nodes on 6379."
  }

  assert {
    condition = alltrue([
      for r in values(aws_vpc_security_group_ingress_rule.internal) :
      r.referenced_security_group_id == aws_security_group.alb.id ? r.from_port == 8080 && r.security_group_id == aws_security_group.eks_nodes.id : true
    ])
    error_message = "The ALB may only reach the pods' port 8080."
  }
}

run "dev_single_nat_gateway" {
  variables {
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1
    error_message = "single_nat_gateway must create exactly one NAT gateway."
  }

  assert {
    condition     = length(aws_eip.nat) == 1 && length(aws_route.private_nat) == 3
    error_message = "All three private subnets must still get a default route (through the single NAT gateway)."
  }
}

# The HPA reads metrics.k8s.io (metrics-server add-on, 10251) and custom.metrics.k8s.io
# (prometheus-adapter, 6443) through the API server, which dials those pods on the nodes.
# The nodes carry only this module's group, so exactly the needed ports must be open from
# the control plane, both as its egress and as the nodes' ingress.
run "control_plane_reaches_webhooks_kubelet_and_metric_apis" {
  command = plan

  assert {
    condition = toset([
      for r in values(aws_vpc_security_group_ingress_rule.internal) : r.from_port
      if r.security_group_id == aws_security_group.eks_nodes.id && r.referenced_security_group_id == aws_security_group.eks_cluster.id
    ]) == toset([443, 6443, 9443, 10250, 10251])
    error_message = "Nodes must accept exactly 443, 6443, 9443, 10250 and 10251 from the control plane."
  }

  assert {
    condition = toset([
      for r in values(aws_vpc_security_group_egress_rule.internal) : r.from_port
      if r.security_group_id == aws_security_group.eks_cluster.id && r.referenced_security_group_id == aws_security_group.eks_nodes.id
    ]) == toset([443, 6443, 9443, 10250, 10251])
    error_message = "The control plane must be able to send to exactly 443, 6443, 9443, 10250 and 10251 on the nodes."
  }
}

run "rejects_api_open_to_the_internet" {
  command = plan

  variables {
    cluster_admin_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.cluster_admin_cidrs]
}

run "rejects_short_flow_log_retention" {
  command = plan

  variables {
    flow_logs_retention_days = 90
  }

  expect_failures = [var.flow_logs_retention_days]
}

# 0.0.0.0/1 + 128.0.0.0/1 is the internet without the literal 0.0.0.0/0.
run "rejects_wide_admin_cidrs" {
  command = plan

  variables {
    cluster_admin_cidrs = ["10.99.0.0/16", "0.0.0.0/1"]
  }

  expect_failures = [var.cluster_admin_cidrs]
}

run "rejects_ipv6_admin_cidrs" {
  command = plan

  variables {
    cluster_admin_cidrs = ["::/0"]
  }

  expect_failures = [var.cluster_admin_cidrs]
}

run "accepts_narrow_admin_cidrs" {
  command = plan

  variables {
    cluster_admin_cidrs = ["10.99.0.0/16", "192.168.10.0/24", "203.0.113.7/32"]
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.cluster_from_admin) == 3
    error_message = "Admin networks of /16 or narrower must be accepted."
  }
}

# IRSA pods call STS themselves; in the cardholder-data environment that must not need the
# internet. The endpoint resolves through private DNS, lives in the database subnets (the
# NetworkPolicy allows pods 443 to those CIDRs, where nothing else listens on 443) and
# admits HTTPS from the nodes' group only.
run "sts_endpoint_private_dns_from_nodes_only" {
  assert {
    condition = (
      aws_vpc_endpoint.sts.service_name == "com.amazonaws.eu-central-1.sts" &&
      aws_vpc_endpoint.sts.vpc_endpoint_type == "Interface" &&
      aws_vpc_endpoint.sts.private_dns_enabled == true
    )
    error_message = "STS must be an interface endpoint with private DNS, so sts.<region>.amazonaws.com resolves to it."
  }

  assert {
    condition     = length(aws_vpc_endpoint.sts.subnet_ids) > 0 && alltrue([for id in aws_vpc_endpoint.sts.subnet_ids : id == "subnet-database"])
    error_message = "The STS endpoint's interfaces must be in the database subnets only (the NetworkPolicy's 443 destination)."
  }

  assert {
    condition     = aws_vpc_endpoint.sts.security_group_ids == toset(["sg-vpc-endpoints"])
    error_message = "The STS endpoint must carry only the endpoints' security group."
  }

  assert {
    condition = [
      for r in values(aws_vpc_security_group_ingress_rule.internal) :
      [r.referenced_security_group_id, r.ip_protocol, r.from_port, r.to_port]
      if r.security_group_id == aws_security_group.vpc_endpoints.id
    ] == [[aws_security_group.eks_nodes.id, "tcp", 443, 443]]
    error_message = "The endpoints' group must admit exactly HTTPS (443) from the EKS nodes' group."
  }

  assert {
    condition = !contains(concat(
      [for r in values(aws_vpc_security_group_ingress_rule.cluster_from_admin) : r.security_group_id],
      [aws_vpc_security_group_ingress_rule.alb_https.security_group_id, aws_vpc_security_group_ingress_rule.alb_http_redirect.security_group_id],
    ), aws_security_group.vpc_endpoints.id)
    error_message = "No CIDR-based ingress rule may open the endpoints' group."
  }

  assert {
    condition     = output.interface_endpoint_subnet_ids == toset(["subnet-database"]) && output.sts_vpc_endpoint_id == aws_vpc_endpoint.sts.id
    error_message = "The outputs must name the endpoint and its subnets."
  }
}
