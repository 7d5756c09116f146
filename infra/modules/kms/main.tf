data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  signing      = var.signing != null
  # null / empty for an encryption key (var.signing is null).
  signer_arns   = try(var.signing.signer_arns, [])
  verifier_arns = try(coalesce(var.signing.verifier_arns, []), [])

  # What cosign's AWS KMS client (sigstore/sigstore pkg/signature/kms/aws) calls: every
  # `cosign sign`, `attest`, `sign-blob` and `public-key` reads the public key and the key's
  # metadata (its signing algorithm) before it signs; `verify --key awskms://` reads both
  # and verifies locally, kms:Verify being the remote check. ci/awskms's seam test records
  # those calls against an AWS API emulator and holds them to these two lists.
  sign_actions   = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
  verify_actions = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"]

  # A signing key's administration without its use: IAM policies of this account (the apply
  # roles' AdministratorAccess among them) can manage the key and read its public key (which
  # is public: the root's outputs publish it), but neither sign, verify nor create a grant
  # that would let anyone sign. Only the principals the statements below name can sign.
  signing_key_administration = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:GetPublicKey",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ]
}

data "aws_iam_policy_document" "this" {
  # Key administration stays with IAM in this account: without it the key could become
  # unmanageable (AWS refuses key policies that lock the account out). An encryption key's
  # use is delegated to IAM as well; a signing key's is not (signing_key_administration).
  statement {
    sid       = "AccountAdministers"
    actions   = local.signing ? local.signing_key_administration : ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  # CloudWatch Logs encrypts log groups with the key itself, so it must be named in the key
  # policy; the encryption-context condition limits it to this account's log groups.
  dynamic "statement" {
    for_each = var.allow_cloudwatch_logs ? [1] : []

    content {
      sid       = "CloudWatchLogs"
      actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
      }

      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
      }
    }
  }

  # Services that publish into encrypted resources on our behalf (e.g. CloudWatch alarms into
  # an encrypted SNS topic) need data keys, and only when acting for this account.
  dynamic "statement" {
    for_each = length(var.service_principals) > 0 ? [1] : []

    content {
      sid       = "AwsServicesUseForThisAccount"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = var.service_principals
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }

  # AWS principals that use the key on our behalf through grants, e.g. the Auto Scaling
  # service-linked role, which must encrypt the EBS volumes of the EKS nodes it launches.
  dynamic "statement" {
    for_each = length(var.grant_principal_arns) > 0 ? [1] : []

    content {
      sid       = "UseThroughAwsServices"
      actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.grant_principal_arns
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.grant_principal_arns) > 0 ? [1] : []

    content {
      sid       = "GrantOnlyForAwsResources"
      actions   = ["kms:CreateGrant"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.grant_principal_arns
      }

      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }
    }
  }

  # A signing key: the given principals sign (the pipeline's publish role) ...
  dynamic "statement" {
    for_each = local.signing ? [1] : []

    content {
      sid       = "SignWithTheKey"
      actions   = local.sign_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = local.signer_arns
      }
    }
  }

  # ... and these read its public key and verify (the deploy roles), never sign.
  dynamic "statement" {
    for_each = length(local.verifier_arns) > 0 ? [1] : []

    content {
      sid       = "VerifyWithTheKey"
      actions   = local.verify_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = local.verifier_arns
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description              = var.description
  deletion_window_in_days  = var.deletion_window_in_days
  key_usage                = local.signing ? "SIGN_VERIFY" : "ENCRYPT_DECRYPT"
  customer_master_key_spec = try(var.signing.key_spec, "SYMMETRIC_DEFAULT")
  # Yearly rotation of the key material is a PCI DSS 3.6.4 expectation and costs nothing.
  # KMS rotates symmetric encryption keys only (EnableKeyRotation on an asymmetric key is
  # an UnsupportedOperationException): new material for a signing key would be a new public
  # key, which every verifier holds (deploy's SIGNING_PUBLIC_KEY). A signing key is rotated
  # by making a new key and handing out its public key (docs/pipeline.md, "Signing keys").
  enable_key_rotation = !local.signing
  policy              = data.aws_iam_policy_document.this.json
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = !local.signing || (!var.allow_cloudwatch_logs && length(var.service_principals) == 0 && length(var.grant_principal_arns) == 0)
      error_message = "A signing key encrypts nothing: allow_cloudwatch_logs, service_principals and grant_principal_arns are for encryption keys."
    }
  }
}

# The key's public key, for those who verify without AWS credentials (deploy.yml's
# SIGNING_PUBLIC_KEY): read through the account statement above, by the alias, as cosign
# reads it (awskms:///alias/...).
data "aws_kms_public_key" "this" {
  count = local.signing ? 1 : 0

  key_id = aws_kms_alias.this.name
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
