mock_provider "aws" {}

variables {
  kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  secrets = {
    pan_hmac_key = {
      name            = "transaction-validator/test/pan-hmac-key"
      description     = "test"
      service_account = "transaction-validator/transaction-validator"
    }
  }
}

run "kms_encrypted_recoverable_secrets" {
  assert {
    condition     = alltrue([for s in aws_secretsmanager_secret.this : s.kms_key_id == var.kms_key_arn && s.recovery_window_in_days >= 7])
    error_message = "Secrets must use the customer-managed key and stay recoverable for >= 7 days."
  }
}

run "rejects_immediate_deletion" {
  command = plan

  variables {
    recovery_window_days = 0
  }

  expect_failures = [var.recovery_window_days]
}
