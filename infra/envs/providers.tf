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

# The disaster-recovery region: backup copies and secret replicas (var.dr). Configured in
# every environment (a module's provider cannot be optional); used only where dr.enabled.
provider "aws" {
  alias               = "dr"
  region              = var.dr_region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Repository = "transaction-validator/infra"
    }
  }
}
