# Run once per AWS account, before any environment root: creates the S3 bucket that holds
# (and, with `use_lockfile`, locks) the environments' Terraform state. The DynamoDB lock
# table is deprecated by the S3 backend in favour of S3-native lock files and is only
# created while lock_table_name is set (for the migration away from it; see README.md).
#
# This root keeps its own (tiny) state locally: it cannot be stored in the bucket it creates
# before the bucket exists. Commit nothing from it; after the first apply, either keep the
# local state file in the team's password vault or migrate it into the new bucket with a
# backend block and `tofu init -migrate-state`.

locals {
  tags = merge(var.tags, {
    Service   = "transaction-validator"
    Component = "terraform-state"
    ManagedBy = "opentofu"
  })
}

module "kms" {
  source = "../modules/kms"

  alias       = "transaction-validator/tfstate-${var.environment}"
  description = "Terraform state of transaction-validator ${var.environment} (state holds generated passwords)"
  tags        = local.tags
}

# Versioned, KMS-encrypted, private, TLS-only, access-logged (see ../modules/s3-bucket).
module "state_bucket" {
  source = "../modules/s3-bucket"

  name        = var.state_bucket_name
  kms_key_arn = module.kms.key_arn
  # Old state versions are the undo button for a bad apply: keep them a year.
  noncurrent_version_expiration_days = 365
  tags                               = local.tags
}

resource "aws_dynamodb_table" "lock" {
  count = var.lock_table_name == null ? 0 : 1

  name         = var.lock_table_name
  billing_mode = "PAY_PER_REQUEST" # a handful of requests per apply: cents per month
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.kms.key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = true
  tags                        = local.tags
}
