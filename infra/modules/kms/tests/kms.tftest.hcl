mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
}

variables {
  alias                 = "tv-test/logs"
  description           = "test key"
  allow_cloudwatch_logs = true
}

run "rotating_key_with_scoped_logs_access" {
  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "Key rotation must be on."
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/tv-test/logs"
    error_message = "The alias must be prefixed with alias/."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.sid == "CloudWatchLogs" && anytrue([for c in s.condition : c.variable == "kms:EncryptionContext:aws:logs:arn"])
    ])
    error_message = "CloudWatch Logs may use the key only for this account's log groups."
  }
}

run "rejects_reserved_alias" {
  command = plan

  variables {
    alias = "aws/ebs"
  }

  expect_failures = [var.alias]
}
