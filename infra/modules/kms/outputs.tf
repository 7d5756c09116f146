output "key_arn" {
  description = "ARN of the KMS key."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the KMS key."
  value       = aws_kms_key.this.key_id
}

output "alias_name" {
  description = "Full alias name (`alias/...`)."
  value       = aws_kms_alias.this.name
}

output "key_usage" {
  description = "ENCRYPT_DECRYPT, or SIGN_VERIFY for a signing key."
  value       = aws_kms_key.this.key_usage
}

output "key_spec" {
  description = "SYMMETRIC_DEFAULT, or a signing key's spec (e.g. ECC_NIST_P256)."
  value       = aws_kms_key.this.customer_master_key_spec
}

output "signer_arns" {
  description = "The principals the key policy lets sign (a signing key); empty for an encryption key."
  value       = local.signer_arns
}

output "verifier_arns" {
  description = "The principals the key policy lets read the public key and verify, but not sign; empty for an encryption key."
  value       = local.verifier_arns
}

output "public_key_pem" {
  description = "A signing key's public key (PEM, SubjectPublicKeyInfo), what `cosign public-key --key awskms:///<alias>` prints; null for an encryption key."
  value       = local.signing ? data.aws_kms_public_key.this[0].public_key_pem : null
}
