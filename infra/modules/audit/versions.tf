terraform {
  # 1.6 is the oldest release both OpenTofu and Terraform share with every feature used here.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
