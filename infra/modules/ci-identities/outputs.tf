output "oidc_provider_arn" {
  description = "The GitHub Actions OIDC provider the roles trust."
  value       = local.oidc_provider
}

output "plan_role_arn" {
  description = "Read-only role for `tofu plan` (pull requests and the plan branch)."
  value       = aws_iam_role.this["plan"].arn
}

output "publish_role_arn" {
  description = "Role that pushes images to the given ECR repositories (publish branch only)."
  value       = aws_iam_role.this["publish"].arn
}

output "apply_role_arns" {
  description = "Apply role per environment (only that GitHub environment's jobs)."
  value       = { for e in var.environments : e => aws_iam_role.this["apply-${e}"].arn }
}

output "deploy_role_arns" {
  description = "Deploy role per environment, with its EKS access entry (empty without cluster_name)."
  value       = var.cluster_name == null ? {} : { for e in var.environments : e => aws_iam_role.this["deploy-${e}"].arn }
}

output "deploy_role_names" {
  description = "Deploy role names per environment (known at plan, unlike the ARNs: for for_each elsewhere)."
  value       = var.cluster_name == null ? {} : { for e in var.environments : e => aws_iam_role.this["deploy-${e}"].name }
}

output "role_subjects" {
  description = "The GitHub OIDC `sub` values each role trusts, keyed by role (plan, publish, apply-<env>, deploy-<env>)."
  value       = local.subjects
}

output "plan_lock_object_key" {
  description = "The one object key the plan role may write (the state's S3 lock object), or null."
  value       = var.state_key == null ? null : "${var.state_key}.tflock"
}

output "plan_readable_secret_arns" {
  description = "The secrets whose values the plan role may read (plan_secret_arns); empty where it may read none."
  value       = var.plan_secret_arns
}
