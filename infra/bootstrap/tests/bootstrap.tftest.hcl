# The provider still validates arguments, so mocked ARNs must look real.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-central-1:123456789012:table/mock" }
  }
}

variables {
  environment         = "prod"
  state_bucket_name   = "transaction-validator-tfstate-prod"
  allowed_account_ids = ["123456789012"]
}

# The S3 backend locks with `use_lockfile` in the state bucket; the DynamoDB table
# (`dynamodb_table`, deprecated) is not created for a fresh account.
run "no_lock_table_by_default" {
  command = plan

  assert {
    condition     = length(aws_dynamodb_table.lock) == 0
    error_message = "The deprecated DynamoDB lock table must not be created unless asked for."
  }
}

# An account whose environments still lock with the table keeps it until they migrate.
run "lock_table_kept_during_the_migration" {
  command = plan

  variables {
    lock_table_name = "transaction-validator-tflock-prod"
  }

  assert {
    condition     = length(aws_dynamodb_table.lock) == 1 && aws_dynamodb_table.lock[0].deletion_protection_enabled
    error_message = "A named lock table must still be created, with deletion protection."
  }
}

# The provider's account guard is required and takes only 12-digit account ids.
run "refuses_to_run_without_an_account_guard" {
  command = plan

  variables {
    allowed_account_ids = []
  }

  expect_failures = [var.allowed_account_ids]
}

run "refuses_a_malformed_account_id" {
  command = plan

  variables {
    allowed_account_ids = ["12345678901", "arn:aws:iam::123456789012:root"]
  }

  expect_failures = [var.allowed_account_ids]
}
