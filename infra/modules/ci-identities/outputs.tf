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

output "image_signing_key" {
  description = "The image-signing key as cosign names it, `awskms:///alias/<name_prefix>/image-signing`: deploy.yml's SIGNING_KMS_KEY (`dagger call sign --kms-key`)."
  value       = "awskms:///${module.image_signing_key.alias_name}"
}

output "image_signing_key_arn" {
  description = "ARN of the image-signing key (ECC_NIST_P256, SIGN_VERIFY)."
  value       = module.image_signing_key.key_arn
}

output "image_signing_public_key" {
  description = "The image-signing key's public key (PEM): deploy.yml's SIGNING_PUBLIC_KEY (`dagger call deploy --signed-by`)."
  value       = module.image_signing_key.public_key_pem
}

output "image_signers" {
  description = "Who the image-signing key's policy lets sign (the publish role) and who only read its public key and verify (the deploy roles)."
  value = {
    sign   = module.image_signing_key.signer_arns
    verify = module.image_signing_key.verifier_arns
  }
}
