provider "aws" {
  region = var.region
  # Refuses to run against any other account, so a wrong AWS_PROFILE cannot touch prod.
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Repository = "transaction-validator/infra"
    }
  }
}
