# Partial configuration: which bucket and key is the environment's choice, in
# <env>.s3.tfbackend (state bucket created by infra/bootstrap, once per account). Locking is
# S3-native (use_lockfile: a lock object next to the state, no DynamoDB table), and there is
# no `encrypt = true`: without a kms_key_id it asks S3 for SSE-S3, which the state bucket's
# policy refuses; the bucket's default encryption applies the state key instead.
# `tofu init -backend-config=<env>.s3.tfbackend`; a bucket name that is taken can be
# overridden at init time with another `-backend-config="bucket=<name>"`.
terraform {
  backend "s3" {}
}
