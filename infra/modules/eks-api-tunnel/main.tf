# How the pipeline reaches the private EKS API from GitHub-hosted runners, without opening
# the API to the internet: a one-instance Auto Scaling group in the private subnets that
# accepts no inbound connection at all. A deploy job opens an SSM Session Manager
# port-forwarding session through it (AWS-StartPortForwardingSessionToRemoteHost) to the
# cluster's private endpoint, so the job's kubectl talks to 127.0.0.1 and Session Manager
# carries the bytes over the instance's outbound HTTPS connection to SSM. Who may open a
# session is decided by IAM (the roles in session_role_names), and every session is
# recorded by CloudTrail.
#
# The GitHub IP ranges are too many and too volatile for the endpoint's public_access_cidrs
# (40 entries at most), and a runner fleet inside the VPC would run CI code next to the
# cardholder data; a port forwarder runs nothing of ours.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  # The tag that identifies the instance: the IAM condition of ssm:StartSession and the
  # filter the workflow finds the instance with.
  tag_key = "eks-api-tunnel"
}

# Amazon Linux 2023 ships the SSM agent. Graviton, like the nodes. The newest image at each
# plan: a new one becomes a new launch template version, rolled out by the instance refresh.
data "aws_ami" "al2023" {
  most_recent = true
  owners      = ["amazon"]

  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-kernel-*-arm64"]
  }

  filter {
    name   = "architecture"
    values = ["arm64"]
  }
}

################################################################################
# Network: nothing in, HTTPS out
################################################################################

resource "aws_security_group" "this" {
  name        = "${var.name}-eks-api-tunnel"
  description = "SSM port-forwarding host to the private EKS API: no inbound rules, HTTPS out only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-eks-api-tunnel" })
}

# DNS (the VPC resolver) and the instance metadata service are not filtered by security
# groups, so HTTPS is the only rule: to SSM through the NAT gateways, and to the API.
#trivy:ignore:AVD-AWS-0104 The SSM agent calls the regional SSM endpoints, whose addresses are not fixed; HTTPS only, out through the NAT gateways.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to Session Manager (through NAT) and the private Kubernetes API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "api_from_tunnel" {
  security_group_id            = var.cluster_security_group_id
  description                  = "Kubernetes API from the SSM port-forwarding host (CI deploys)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.this.id
}

################################################################################
# The instance: Session Manager's managed policy, nothing else
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-eks-api-tunnel"
  description        = "SSM port-forwarding host of ${var.name}'s private EKS API"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-eks-api-tunnel"
  role = aws_iam_role.this.name
  tags = var.tags
}

resource "aws_launch_template" "this" {
  name                   = "${var.name}-eks-api-tunnel"
  description            = "SSM port-forwarding host to the private EKS API"
  image_id               = data.aws_ami.al2023.id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.this.id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  # IMDSv2 only, one hop: nothing on the host can hand its credentials to a container.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-eks-api-tunnel", (local.tag_key) = var.name })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.name}-eks-api-tunnel" })
  }

  tags = var.tags
}

# One instance, replaced by Auto Scaling when it fails and rolled when the template changes.
resource "aws_autoscaling_group" "this" {
  name                = "${var.name}-eks-api-tunnel"
  min_size            = 1
  max_size            = 1
  desired_capacity    = 1
  vpc_zone_identifier = var.subnet_ids
  health_check_type   = "EC2"

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 0
    }
  }
}

################################################################################
# Who may open a session: port forwarding to this instance only
################################################################################

data "aws_iam_policy_document" "session" {
  # SessionDocumentAccessCheck makes Session Manager check the document too, so a session
  # without one (an interactive shell, SSM-SessionManagerRunShell) is refused.
  statement {
    sid       = "StartSessionOnTheTunnelHostOnly"
    actions   = ["ssm:StartSession"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]

    condition {
      test     = "StringEquals"
      variable = "ssm:resourceTag/${local.tag_key}"
      values   = [var.name]
    }

    condition {
      test     = "BoolIfExists"
      variable = "ssm:SessionDocumentAccessCheck"
      values   = ["true"]
    }
  }

  statement {
    sid       = "PortForwardingDocumentOnly"
    actions   = ["ssm:StartSession"]
    resources = ["arn:${local.partition}:ssm:${local.region}::document/AWS-StartPortForwardingSessionToRemoteHost"]
  }

  # DescribeInstances has no resource-level permissions; it finds the instance by its tag.
  statement {
    sid       = "FindTheTunnelHost"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "session" {
  for_each = toset(var.session_role_names)

  name   = "eks-api-tunnel"
  role   = each.value
  policy = data.aws_iam_policy_document.session.json
}
