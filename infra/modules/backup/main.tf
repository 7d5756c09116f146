# AWS Backup for one environment: a recovery point of each resource every few hours, kept
# in a vault of this region and copied to a vault of the DR region (provider aws.dr), both
# vaults locked. Aurora cannot replicate its automated backups to another region (that
# RDS feature exists for DB instances, not Aurora clusters), and a Global Database would
# run a second cluster at all times; copies are the cheap way to survive a region loss
# (docs/disaster-recovery.md compares the costs).

data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_region" "dr" {
  provider = aws.dr
}

locals {
  partition = data.aws_partition.current.partition
  # Vault Lock's compliance mode starts after this grace period, during which the lock can
  # still be removed (a wrong retention can be fixed); afterwards it is immutable.
  lock_changeable_for_days = var.lock_mode == "compliance" ? 3 : null
}

################################################################################
# The DR region's key: a KMS key never leaves its region, so copies there are encrypted
# with a key of that region, which survives the loss of the primary one.
################################################################################

module "dr_key" {
  source = "../kms"
  providers = {
    aws = aws.dr
  }

  alias                   = "${var.name}/backup-dr"
  description             = "Cross-region backup copies of ${var.name} (disaster recovery)"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = var.tags
}

################################################################################
# Vaults
################################################################################

resource "aws_backup_vault" "this" {
  name        = var.name
  kms_key_arn = var.kms_key_arn
  tags        = var.tags
}

resource "aws_backup_vault" "dr" {
  provider = aws.dr

  name        = "${var.name}-dr"
  kms_key_arn = module.dr_key.key_arn
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = data.aws_region.dr.region != data.aws_region.current.region
      error_message = "The DR provider (aws.dr) must point at another region than the primary one: a copy in the same region does not survive its loss."
    }
  }
}

# Nobody (an attacker with the account's admin rights included, in compliance mode) can
# delete a recovery point or shorten its retention below retention_days.
resource "aws_backup_vault_lock_configuration" "this" {
  backup_vault_name   = aws_backup_vault.this.name
  min_retention_days  = var.retention_days
  max_retention_days  = var.retention_days
  changeable_for_days = local.lock_changeable_for_days
}

resource "aws_backup_vault_lock_configuration" "dr" {
  provider = aws.dr

  backup_vault_name   = aws_backup_vault.dr.name
  min_retention_days  = var.retention_days
  max_retention_days  = var.retention_days
  changeable_for_days = local.lock_changeable_for_days
}

################################################################################
# Plan and selection
################################################################################

resource "aws_backup_plan" "this" {
  name = var.name

  rule {
    rule_name                    = "every-period-with-dr-copy"
    target_vault_name            = aws_backup_vault.this.name
    schedule                     = var.schedule
    schedule_expression_timezone = "Etc/UTC"
    start_window                 = 60
    completion_window            = 180
    recovery_point_tags          = var.tags

    lifecycle {
      delete_after = var.retention_days
    }

    copy_action {
      destination_vault_arn = aws_backup_vault.dr.arn

      lifecycle {
        delete_after = var.retention_days
      }
    }
  }

  tags = var.tags

  # A plan that starts before the locks would create recovery points that may be deleted.
  depends_on = [aws_backup_vault_lock_configuration.this, aws_backup_vault_lock_configuration.dr]
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-backup"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# AWS's managed policies for the service role: backup and restore of RDS/Aurora and the
# other "classic" resources, and S3's own pair (S3 is backed up through its own APIs).
resource "aws_iam_role_policy_attachment" "this" {
  for_each = toset([
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
  ])

  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_backup_selection" "this" {
  name         = var.name
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.this.arn
  resources    = var.resource_arns
}
