terraform {
  # 1.6 is the oldest release both OpenTofu and Terraform share with every feature used here.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
      # aws.dr: the disaster-recovery region, where the copies are kept. It must be another
      # region than the default provider's (a precondition checks it).
      configuration_aliases = [aws.dr]
    }
  }
}
