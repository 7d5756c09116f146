# The copies must land in another region, encrypted with that region's key, in locked
# vaults that keep them as long as the primary ones.
# The provider still validates arguments, so mocked ARNs and policy JSON must look real.
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
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/tv-test-backup" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:eu-central-1:123456789012:backup-vault:tv-test" }
  }
}

mock_provider "aws" {
  alias = "dr"

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
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
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/66666666-2222-3333-4444-555555555555", key_id = "66666666-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:eu-west-1:123456789012:backup-vault:tv-test-dr" }
  }
}

variables {
  name          = "tv-test"
  resource_arns = ["arn:aws:rds:eu-central-1:123456789012:cluster:tv-test", "arn:aws:s3:::tv-test-etl"]
  kms_key_arn   = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "copies_go_to_a_locked_vault_of_the_dr_region" {
  assert {
    condition     = one(one(aws_backup_plan.this.rule).copy_action).destination_vault_arn == aws_backup_vault.dr.arn
    error_message = "Every recovery point must be copied to the DR region's vault."
  }

  assert {
    condition     = split(":", aws_backup_vault.dr.arn)[3] == "eu-west-1" && split(":", aws_backup_vault.this.arn)[3] == "eu-central-1"
    error_message = "The DR vault must be created through the aws.dr provider, the primary vault through the default one."
  }

  assert {
    condition     = aws_backup_vault.dr.kms_key_arn == module.dr_key.key_arn && split(":", module.dr_key.key_arn)[3] == "eu-west-1"
    error_message = "The copies must be encrypted with a key of the DR region, which survives the primary region."
  }

  assert {
    condition     = aws_backup_vault.this.kms_key_arn == var.kms_key_arn
    error_message = "The primary vault must be encrypted with the given customer-managed key."
  }

  assert {
    condition = (
      one(one(aws_backup_plan.this.rule).lifecycle).delete_after == 35 &&
      one(one(one(aws_backup_plan.this.rule).copy_action).lifecycle).delete_after == 35
    )
    error_message = "Recovery points and their copies must be kept retention_days (35 by default)."
  }

  assert {
    condition = alltrue([
      for l in [aws_backup_vault_lock_configuration.this, aws_backup_vault_lock_configuration.dr] :
      l.min_retention_days == 35 && l.max_retention_days == 35 && l.changeable_for_days == null
    ])
    error_message = "Both vaults must be locked to the retention (governance mode by default)."
  }

  assert {
    condition     = aws_backup_vault_lock_configuration.dr.backup_vault_name == aws_backup_vault.dr.name
    error_message = "The lock must be on the DR vault itself."
  }

  assert {
    condition     = toset(aws_backup_selection.this.resources) == toset(var.resource_arns) && aws_backup_selection.this.iam_role_arn == aws_iam_role.this.arn
    error_message = "The selection must cover exactly the given resources, with the module's role."
  }

  assert {
    condition     = output.dr_region == "eu-west-1"
    error_message = "The dr_region output must name the DR provider's region."
  }
}

run "compliance_mode_locks_for_good_after_three_days" {
  variables {
    lock_mode      = "compliance"
    retention_days = 90
  }

  assert {
    condition = alltrue([
      for l in [aws_backup_vault_lock_configuration.this, aws_backup_vault_lock_configuration.dr] :
      l.changeable_for_days == 3 && l.min_retention_days == 90
    ])
    error_message = "Compliance mode must set a 3-day grace period on both vaults."
  }
}

run "refuses_a_dr_region_equal_to_the_primary" {
  command = plan

  override_data {
    target = data.aws_region.dr
    values = { region = "eu-central-1" }
  }

  expect_failures = [aws_backup_vault.dr]
}

run "rejects_an_unknown_lock_mode" {
  command = plan

  variables {
    lock_mode = "legal-hold"
  }

  expect_failures = [var.lock_mode]
}

run "rejects_a_retention_under_a_week" {
  command = plan

  variables {
    retention_days = 3
  }

  expect_failures = [var.retention_days]
}
