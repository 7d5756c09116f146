# State lives in the bucket and lock table created by infra/bootstrap (run once per account).
# Bucket names are global: if this one is taken, pass another one at init time with
# `tofu init -backend-config="bucket=<name>"`.
terraform {
  backend "s3" {
    bucket         = "transaction-validator-tfstate-staging"
    key            = "envs/staging/terraform.tfstate"
    region         = "eu-central-1"
    encrypt        = true
    dynamodb_table = "transaction-validator-tflock-staging"
  }
}
