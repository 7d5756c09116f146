output "plan_id" {
  description = "ID of the backup plan."
  value       = aws_backup_plan.this.id
}

output "vault_arn" {
  description = "ARN of the vault in the primary region."
  value       = aws_backup_vault.this.arn
}

output "dr_vault_arn" {
  description = "ARN of the vault in the DR region, which receives the copies."
  value       = aws_backup_vault.dr.arn
}

output "dr_vault_name" {
  description = "Name of the vault in the DR region (the restore drill lists its recovery points)."
  value       = aws_backup_vault.dr.name
}

output "dr_region" {
  description = "The DR region the copies are kept in."
  value       = data.aws_region.dr.region
}

output "dr_kms_key_arn" {
  description = "ARN of the DR region's key that encrypts the copies."
  value       = module.dr_key.key_arn
}

output "role_arn" {
  description = "ARN of the role AWS Backup assumes to back up and restore."
  value       = aws_iam_role.this.arn
}

output "resource_arns" {
  description = "ARNs of the resources the plan backs up and copies."
  value       = aws_backup_selection.this.resources
}
