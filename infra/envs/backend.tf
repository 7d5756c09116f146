# Partial configuration: which bucket, key and lock table is the environment's choice, in
# <env>.s3.tfbackend (state bucket and lock table created by infra/bootstrap, once per
# account). `tofu init -backend-config=<env>.s3.tfbackend`; a bucket name that is taken can be
# overridden at init time with another `-backend-config="bucket=<name>"`.
terraform {
  backend "s3" {}
}
