provider "aws" {
  region = var.region
  # Refuses to run against any other account, so a wrong AWS_PROFILE cannot touch prod.
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      Repository = "transaction-validator/infra"
    }
  }
}
