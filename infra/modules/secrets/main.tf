# Secret containers only. Their values (the PAN HMAC key, the FX vendor's API key) are put
# in out of band with `aws secretsmanager put-secret-value`, so they never pass through
# Terraform code, plans or state.
resource "aws_secretsmanager_secret" "this" {
  for_each = var.secrets

  name                    = each.value.name
  description             = each.value.description
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = merge(var.tags, { ServiceAccount = each.value.service_account })

  # Secrets Manager keeps the replica in step with every new value put into the secret.
  dynamic "replica" {
    for_each = var.replica == null ? [] : [var.replica]

    content {
      region     = replica.value.region
      kms_key_id = replica.value.kms_key_arn
    }
  }
}
