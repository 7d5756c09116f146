# The AWS identities of the CI/CD pipeline, assumed with GitHub Actions OIDC tokens (no
# long-lived keys). Every trust policy pins the audience to STS and the token's `sub` to
# exactly this repository and one branch or one GitHub environment, with StringEquals: a
# StringLike wildcard would let any branch, fork PR or environment in.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  issuer_host   = "token.actions.githubusercontent.com"
  oidc_provider = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn
  repo          = "repo:${var.github_repository}"

  # role key => the only `sub` values that may assume it.
  subjects = merge(
    {
      plan    = ["${local.repo}:pull_request", "${local.repo}:ref:refs/heads/${var.plan_branch}"]
      publish = ["${local.repo}:ref:refs/heads/${var.publish_branch}"]
    },
    { for e in var.environments : "apply-${e}" => ["${local.repo}:environment:${e}"] },
    var.cluster_name == null ? {} : { for e in var.environments : "deploy-${e}" => ["${local.repo}:environment:${e}"] },
  )
}

# No thumbprint_list: IAM validates GitHub's OIDC issuer against its own trusted CAs.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer_host}"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_policy_document" "trust" {
  for_each = local.subjects

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.subjects

  name                 = "${var.name_prefix}-ci-${each.key}"
  description          = "CI ${each.key} of ${var.github_repository} (GitHub OIDC: ${join(", ", each.value)})"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600
  tags                 = var.tags
}

################################################################################
# plan: read-only
################################################################################

# ReadOnlyAccess to refresh every resource, plus decrypting the state (SSE-KMS). The one
# write: the S3 lock object next to the state (`<state_key>.tflock`, backend use_lockfile),
# because `dagger call plan` (ci/infra.go) plans under the lock, so that a plan never reads a
# state an apply is halfway through writing. A plan holds it for its own duration only.
resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.this["plan"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan_state" {
  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [var.state_bucket_arn, "${var.state_bucket_arn}/*"]
  }

  dynamic "statement" {
    for_each = var.state_key == null ? [] : [var.state_key]

    content {
      sid       = "LockTheStateWhilePlanning"
      actions   = ["s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.state_bucket_arn}/${statement.value}.tflock"]
    }
  }

  statement {
    sid       = "StateKeyThroughS3"
    actions   = var.state_key == null ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.state_kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.*.amazonaws.com"]
    }
  }
}

# Refreshing an aws_secretsmanager_secret_version reads its value (GetSecretValue, which
# ReadOnlyAccess lacks). OpenTofu 1.10 has neither ephemeral resources nor write-only
# attributes, which would keep those values out of the refresh; until then the plan role may
# read exactly the secrets Terraform writes, where the environment chooses to allow it.
data "aws_iam_policy_document" "plan_secrets" {
  count = length(var.plan_secret_arns) > 0 ? 1 : 0

  statement {
    sid       = "RefreshTerraformWrittenSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = var.plan_secret_arns
  }

  statement {
    sid       = "SecretsKeyForThoseSecretsOnly"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["secretsmanager.*.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = var.plan_secret_arns
    }
  }
}

resource "aws_iam_role_policy" "plan_secrets" {
  count = length(var.plan_secret_arns) > 0 ? 1 : 0

  name   = "refresh-terraform-written-secrets"
  role   = aws_iam_role.this["plan"].id
  policy = data.aws_iam_policy_document.plan_secrets[0].json

  lifecycle {
    precondition {
      condition     = var.secrets_kms_key_arn != null
      error_message = "plan_secret_arns needs secrets_kms_key_arn (their KMS key)."
    }
  }
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "read-state"
  role   = aws_iam_role.this["plan"].id
  policy = data.aws_iam_policy_document.plan_state.json
}

################################################################################
# apply: one role per protected environment
################################################################################

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = {
    for pair in setproduct(var.environments, var.apply_policy_arns) : "${pair[0]}/${pair[1]}" => { env = pair[0], arn = pair[1] }
  }

  role       = aws_iam_role.this["apply-${each.value.env}"].name
  policy_arn = each.value.arn
}

################################################################################
# publish: push images to the given repositories only
################################################################################

data "aws_iam_policy_document" "publish" {
  # GetAuthorizationToken has no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushToOwnRepositories"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = var.ecr_repository_arns
  }

  statement {
    sid       = "RepositoryKeyThroughEcr"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.ecr_kms_key_arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["ecr.*.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "publish" {
  name   = "ecr-push"
  role   = aws_iam_role.this["publish"].id
  policy = data.aws_iam_policy_document.publish.json
}

################################################################################
# The image-signing key: publish signs, deploy reads the public key and verifies
################################################################################

# The roles' ARNs written from their names: the ARN IAM gives a role without a path, known
# at plan (so the plan shows the key policy whole), and still a reference to each role, so
# the key policy is written after the roles exist, which KMS requires of a principal.
locals {
  role_arns = { for k, r in aws_iam_role.this : k => "arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${r.name}" }
}

# The key `dagger call sign --kms-key awskms:///alias/<name_prefix>/image-signing` signs
# with (deploy.yml's SIGNING_KMS_KEY). Its key policy is the whole grant: it names the
# publish role as the one signer, so no IAM statement is needed (nor would one work: the
# policy delegates no use of the key to IAM, see ../kms). ECC_NIST_P256 is cosign's own key
# type (`cosign generate-key-pair`, the air-gapped key), so both modes sign alike.
module "image_signing_key" {
  source = "../kms"

  alias                   = "${var.name_prefix}/image-signing"
  description             = "Signs the container images CI publishes (cosign); only ${var.name_prefix}-ci-publish signs"
  deletion_window_in_days = var.image_signing_key_deletion_window_days
  signing = {
    key_spec      = "ECC_NIST_P256"
    signer_arns   = [local.role_arns["publish"]]
    verifier_arns = var.cluster_name == null ? [] : [for e in var.environments : local.role_arns["deploy-${e}"]]
  }
  tags = var.tags
}

################################################################################
# deploy: an EKS access entry in a namespaced Kubernetes group, no access policy
################################################################################

# Besides finding the cluster, a deploy reads the environment's Terraform outputs from its
# state (`dagger call outputs`, ci/outputs.go: `tofu init` + `tofu output -json`): exactly
# the one state object, the workspace listing the S3 backend does on init (ListObjectsV2 with
# the prefix `env:/`, nothing else of the bucket), and decryption with the state key only
# through S3 and only for this bucket (its S3 Bucket Key makes the bucket's ARN the
# encryption context). No lock object: `tofu output` reads without locking.
data "aws_iam_policy_document" "deploy" {
  count = var.cluster_name == null ? 0 : 1

  statement {
    sid       = "FindTheCluster"
    actions   = ["eks:DescribeCluster"]
    resources = ["arn:${local.partition}:eks:*:*:cluster/${var.cluster_name}"]
  }

  # deploy verifies every image before it touches the cluster (`cosign verify` and
  # `verify-attestation`, ci/sign.go): it logs in to ECR (`aws ecr get-login-password`,
  # deploy.yml; GetAuthorizationToken has no resource-level permissions) and reads the
  # image's manifest and the signature and attestation manifests and layers stored next to
  # it, in the same repositories. Read only: no push, no delete.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "ReadImagesAndTheirSignatures"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = var.ecr_repository_arns
  }

  dynamic "statement" {
    for_each = var.state_key == null ? [] : [var.state_key]

    content {
      sid       = "ReadTheStateObject"
      actions   = ["s3:GetObject"]
      resources = ["${var.state_bucket_arn}/${statement.value}"]
    }
  }

  dynamic "statement" {
    for_each = var.state_key == null ? [] : [var.state_key]

    content {
      sid       = "ListTheWorkspacesOnly"
      actions   = ["s3:ListBucket"]
      resources = [var.state_bucket_arn]

      condition {
        test     = "StringEquals"
        variable = "s3:prefix"
        values   = ["${var.workspace_key_prefix}/"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.state_key == null ? [] : [var.state_key]

    content {
      sid       = "DecryptTheStateThroughS3"
      actions   = ["kms:Decrypt"]
      resources = [var.state_kms_key_arn]

      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [var.state_bucket_arn]
      }
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  for_each = var.cluster_name == null ? toset([]) : toset(var.environments)

  name   = "eks-describe"
  role   = aws_iam_role.this["deploy-${each.value}"].id
  policy = data.aws_iam_policy_document.deploy[0].json
}

# Only a Kubernetes group, no EKS access policy association: the role's rights are exactly
# what the RoleBinding of that group in the application namespace grants.
resource "aws_eks_access_entry" "deploy" {
  for_each = var.cluster_name == null ? toset([]) : toset(var.environments)

  cluster_name      = var.cluster_name
  principal_arn     = aws_iam_role.this["deploy-${each.value}"].arn
  type              = "STANDARD"
  kubernetes_groups = [var.deploy_kubernetes_group]
  tags              = var.tags
}
