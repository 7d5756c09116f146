terraform {
  # The backend's S3-native lock (use_lockfile) needs OpenTofu 1.10 (Terraform 1.11).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
