# The provider still validates arguments, so mocked ARNs and ids must look real.
mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_ami" {
    defaults = { id = "ami-0123456789abcdef0" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0123456789abcdef0" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
}

variables {
  name                      = "tv-prod"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  cluster_security_group_id = "sg-0aaaaaaaaaaaaaaaa"
  ebs_kms_key_arn           = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  session_role_names        = ["tv-prod-ci-deploy-prod"]
}

run "nothing_reaches_the_host_and_it_reaches_only_https" {
  command = plan

  assert {
    condition = alltrue([
      aws_vpc_security_group_egress_rule.https.ip_protocol == "tcp",
      aws_vpc_security_group_egress_rule.https.from_port == 443,
      aws_vpc_security_group_egress_rule.https.to_port == 443,
    ])
    error_message = "The host's only egress is HTTPS."
  }

  # No ingress rule names the host's group as its target: Session Manager needs none.
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.api_from_tunnel.security_group_id == var.cluster_security_group_id &&
      aws_vpc_security_group_ingress_rule.api_from_tunnel.from_port == 443 &&
      aws_vpc_security_group_ingress_rule.api_from_tunnel.to_port == 443
    )
    error_message = "The one ingress rule is on the cluster's group (443 from the host), none on the host's."
  }

  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_tokens == "required" && aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 only, one hop."
  }

  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.this.block_device_mappings[0].ebs[0].kms_key_id == var.ebs_kms_key_arn
    error_message = "The root volume is encrypted with the environment's data key."
  }

  assert {
    condition     = length(aws_launch_template.this.network_interfaces) == 0
    error_message = "No network interface override (and so no public IP): the subnets are private."
  }

  assert {
    condition     = aws_autoscaling_group.this.min_size == 1 && aws_autoscaling_group.this.max_size == 1 && toset(aws_autoscaling_group.this.vpc_zone_identifier) == toset(var.subnet_ids)
    error_message = "One instance, replaced in any of the private subnets."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "The instance gets Session Manager's managed policy."
  }
}

run "sessions_only_port_forward_to_the_tagged_host" {
  command = plan

  assert {
    condition     = toset(keys(aws_iam_role_policy.session)) == toset(["tv-prod-ci-deploy-prod"])
    error_message = "Only the given roles may open sessions."
  }

  # Every statement that grants ssm:StartSession on instances is held to the tag and to the
  # document check; the only document is the port-forwarding one.
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.session.statement :
      anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "ssm:resourceTag/eks-api-tunnel" && toset(c.values) == toset(["tv-prod"])]) &&
      anytrue([for c in s.condition : c.test == "BoolIfExists" && c.variable == "ssm:SessionDocumentAccessCheck" && toset(c.values) == toset(["true"])])
      if contains(s.actions, "ssm:StartSession") && anytrue([for r in s.resources : strcontains(r, ":instance/")])
    ])
    error_message = "StartSession on instances must require the tunnel tag and the document check."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.session.statement : [
        for r in s.resources : r if strcontains(r, ":document/")
      ] if contains(s.actions, "ssm:StartSession")
    ])) == toset(["arn:aws:ssm:eu-central-1::document/AWS-StartPortForwardingSessionToRemoteHost"])
    error_message = "The only session document allowed is AWS-StartPortForwardingSessionToRemoteHost."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.session.statement :
      toset(s.actions) == toset(["ec2:DescribeInstances"]) if contains(s.resources, "*")
    ])
    error_message = "Only ec2:DescribeInstances (no resource-level permissions) may be on *."
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.session.statement : s.actions])) == toset(["ssm:StartSession", "ec2:DescribeInstances"])
    error_message = "Sessions: start a port forward and find the host, nothing else (no SendCommand, no shell)."
  }
}
