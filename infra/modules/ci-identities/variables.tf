variable "name_prefix" {
  description = "Prefix of the roles' names (e.g. `tv-prod`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,32}$", var.name_prefix))
    error_message = "Use up to 32 characters valid in IAM role names."
  }
}

variable "github_repository" {
  description = "The one GitHub repository (`owner/name`) whose workflows may assume these roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, without wildcards."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider (there is one per account and URL); false to use `oidc_provider_arn`."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing `token.actions.githubusercontent.com` OIDC provider, when create_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com provider."
  }
}

variable "plan_branch" {
  description = "Branch whose pushes may plan (pull requests may too); the plan role is read-only."
  type        = string
  default     = "main"
}

variable "publish_branch" {
  description = "The only branch whose workflow may push images."
  type        = string
  default     = "main"
}

variable "environments" {
  description = "GitHub environments (protected: required reviewers, main only) whose workflow may apply and deploy, one apply and one deploy role each. In a one-account-per-environment setup, the account's own environment."
  type        = list(string)

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[a-z0-9-]{1,16}$", e))])
    error_message = "Give at least one environment name (lowercase letters, digits, hyphens)."
  }
}

variable "state_bucket_arn" {
  description = "ARN of the Terraform state bucket (infra/bootstrap), which the plan role reads (and the deploy roles, the `state_key` object only)."
  type        = string
}

variable "state_key" {
  description = "Key of the environment's state object (the backend's `key`); the plan role may then create and delete its lock object `<state_key>.tflock` and nothing else, and the deploy roles may read that object (the environment's outputs). null: no lock rights (plans must run with -lock=false) and no state access for the deploy roles."
  type        = string
  default     = null

  validation {
    condition     = var.state_key == null || can(regex("^[A-Za-z0-9/_.-]+$", var.state_key))
    error_message = "state_key must be a plain object key, without wildcards."
  }
}

variable "workspace_key_prefix" {
  description = "The S3 backend's `workspace_key_prefix` (its default, `env:`): the one prefix the deploy roles may list, which `tofu init` and `tofu output` do to find the workspaces."
  type        = string
  default     = "env:"

  validation {
    condition     = can(regex("^[A-Za-z0-9:_.-]+$", var.workspace_key_prefix))
    error_message = "workspace_key_prefix must be a plain prefix, without slashes or wildcards."
  }
}

variable "state_kms_key_arn" {
  description = "KMS key of the state bucket."
  type        = string
}

variable "plan_secret_arns" {
  description = "Secrets whose values Terraform itself writes (aws_secretsmanager_secret_version), which a refreshing plan must read (GetSecretValue): the plan role may read exactly these. Empty: none, and such a plan fails to refresh them. Every identity that can assume the plan role (pull requests too) can then read them: never a cardholder-data environment's."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.plan_secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^*?]+$", a))])
    error_message = "plan_secret_arns must be full secret ARNs, without wildcards."
  }
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the `plan_secret_arns` secrets (decrypted only through Secrets Manager, only for those secrets)."
  type        = string
  default     = null
}

variable "apply_policy_arns" {
  description = "Managed policies of the apply roles: what `tofu apply` of the environment root may change (chosen by the account owner; typically a permission-boundary-limited admin policy)."
  type        = list(string)

  validation {
    condition     = length(var.apply_policy_arns) > 0
    error_message = "The apply roles need at least one policy."
  }
}

variable "ecr_repository_arns" {
  description = "The ECR repositories the publish role may push to (nothing else)."
  type        = list(string)
}

variable "ecr_kms_key_arn" {
  description = "KMS key of the ECR repositories (pushes write encrypted layers)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster the deploy roles get an access entry in; null: no deploy roles."
  type        = string
  default     = null
}

variable "deploy_kubernetes_group" {
  description = "Kubernetes group of the deploy roles' access entries; a RoleBinding in the application namespace binds it to a namespaced Role (no cluster-wide rights)."
  type        = string
  default     = "txv:deployers"

  validation {
    condition     = !startswith(var.deploy_kubernetes_group, "system:")
    error_message = "system: groups (system:masters, ...) are cluster-wide; use a group bound by a namespaced RoleBinding."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "image_signing_key_deletion_window_days" {
  description = "Waiting period before a scheduled deletion of the image-signing key takes effect (7-30 days): once it is gone, no signature it made can be checked against KMS again."
  type        = number
  default     = 30

  validation {
    condition     = var.image_signing_key_deletion_window_days >= 7 && var.image_signing_key_deletion_window_days <= 30
    error_message = "KMS accepts a deletion window of 7 to 30 days."
  }
}
