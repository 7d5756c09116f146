terraform {
  # 1.9: a variable's validation refers to another variable (etl_bucket_force_destroy is
  # refused when environment is prod), which Terraform allows since 1.9 and OpenTofu
  # supports too (checked with 1.10.7).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
      # aws.dr: the disaster-recovery region (backup copies, secret replicas); the
      # environment root configures it, and uses it only where dr.enabled is true.
      configuration_aliases = [aws.dr]
    }
  }
}
