# The provider still validates arguments, so mocked ARNs must look real.
mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_kms_public_key" {
    defaults = { public_key_pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }
}

variables {
  name_prefix         = "tv-prod"
  github_repository   = "example-org/transaction-validator"
  environments        = ["prod"]
  state_bucket_arn    = "arn:aws:s3:::transaction-validator-tfstate-prod"
  state_kms_key_arn   = "arn:aws:kms:eu-central-1:123456789012:key/state"
  apply_policy_arns   = ["arn:aws:iam::123456789012:policy/tv-prod-apply"]
  ecr_repository_arns = ["arn:aws:ecr:eu-central-1:123456789012:repository/transaction-validator"]
  ecr_kms_key_arn     = "arn:aws:kms:eu-central-1:123456789012:key/data"
  cluster_name        = "tv-prod"
}

# Every role: web identity from the GitHub provider only, audience STS, `sub` compared
# exactly (no StringLike, no wildcard), and the subjects below.
run "every_trust_is_pinned" {
  command = plan

  assert {
    condition     = toset(keys(aws_iam_role.this)) == toset(["plan", "publish", "apply-prod", "deploy-prod"])
    error_message = "Expected exactly the plan, publish, apply-prod and deploy-prod roles."
  }

  assert {
    condition = alltrue([
      for k, d in data.aws_iam_policy_document.trust : alltrue([
        for s in d.statement :
        toset(s.actions) == toset(["sts:AssumeRoleWithWebIdentity"]) &&
        anytrue([for p in s.principals : p.type == "Federated" && toset(p.identifiers) == toset([aws_iam_openid_connect_provider.github[0].arn])]) &&
        anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "token.actions.githubusercontent.com:aud" && toset(c.values) == toset(["sts.amazonaws.com"])]) &&
        anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "token.actions.githubusercontent.com:sub"]) &&
        alltrue([for c in s.condition : c.test == "StringEquals" && alltrue([for v in c.values : !strcontains(v, "*") && !strcontains(v, "?")])])
      ])
    ])
    error_message = "Each trust policy must pin aud = sts.amazonaws.com and sub exactly (StringEquals, no wildcards) for the GitHub provider."
  }

  assert {
    condition = alltrue([
      for k, subs in {
        plan        = ["repo:example-org/transaction-validator:pull_request", "repo:example-org/transaction-validator:ref:refs/heads/main"]
        publish     = ["repo:example-org/transaction-validator:ref:refs/heads/main"]
        apply-prod  = ["repo:example-org/transaction-validator:environment:prod"]
        deploy-prod = ["repo:example-org/transaction-validator:environment:prod"]
        } : anytrue([
          for s in data.aws_iam_policy_document.trust[k].statement : anytrue([
            for c in s.condition : c.variable == "token.actions.githubusercontent.com:sub" && toset(c.values) == toset(subs)
          ])
      ])
    ])
    error_message = "plan: PRs and main; publish: main; apply/deploy: only their protected GitHub environment."
  }

  assert {
    condition     = aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && toset(aws_iam_openid_connect_provider.github[0].client_id_list) == toset(["sts.amazonaws.com"])
    error_message = "The OIDC provider must be GitHub's, for the STS audience."
  }
}

run "plan_role_reads_only" {
  command = plan

  assert {
    condition     = aws_iam_role_policy_attachment.plan_read_only.policy_arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    error_message = "The plan role must be read-only."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.plan_state.statement : [
        for a in s.actions : contains(["s3:GetObject", "s3:ListBucket", "kms:Decrypt"], a)
      ]
    ]))
    error_message = "Without state_key, the plan role's own policy may only read the state and decrypt it."
  }
}

# With the state key, the one write is the lock object of that state.
run "plan_role_writes_only_its_lock_object" {
  command = plan

  variables {
    state_key = "envs/prod/terraform.tfstate"
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.plan_state.statement :
      toset(s.resources) == toset(["arn:aws:s3:::transaction-validator-tfstate-prod/envs/prod/terraform.tfstate.tflock"])
      if length(setsubtract(s.actions, ["s3:GetObject", "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey"])) > 0
    ])
    error_message = "The plan role may write only the lock object of its state."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.plan_state.statement : s.actions])) == toset([
      "s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject", "kms:Decrypt", "kms:GenerateDataKey",
    ])
    error_message = "Read the state, write its lock object, use the state key through S3: nothing else."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.plan_state.statement : anytrue([
        for c in s.condition : c.variable == "kms:ViaService" && toset(c.values) == toset(["s3.*.amazonaws.com"])
      ]) if anytrue([for a in s.actions : startswith(a, "kms:")])
    ])
    error_message = "The state key only through S3."
  }

  assert {
    condition     = length([for a in aws_iam_role_policy_attachment.apply : a if a.role == aws_iam_role.this["plan"].name]) == 0
    error_message = "The apply policies must never reach the plan role."
  }
}

run "publish_pushes_to_its_repositories_only" {
  command = plan

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.publish.statement :
      toset(s.resources) == toset(var.ecr_repository_arns) if anytrue([for a in s.actions : a == "ecr:PutImage"])
    ])
    error_message = "ecr:PutImage only on the given repositories."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.publish.statement :
      toset(s.actions) == toset(["ecr:GetAuthorizationToken"]) if contains(s.resources, "*")
    ])
    error_message = "Only ecr:GetAuthorizationToken (no resource-level permissions) may be on *."
  }
}

run "deploy_is_namespaced_not_cluster_admin" {
  command = plan

  assert {
    condition     = toset(aws_eks_access_entry.deploy["prod"].kubernetes_groups) == toset(["txv:deployers"]) && aws_eks_access_entry.deploy["prod"].type == "STANDARD"
    error_message = "The deploy role's access entry must map to the namespaced deployers group."
  }
}

run "rejects_cluster_wide_deploy_group" {
  command = plan

  variables {
    deploy_kubernetes_group = "system:masters"
  }

  expect_failures = [var.deploy_kubernetes_group]
}

run "rejects_wildcard_repository" {
  command = plan

  variables {
    github_repository = "example-org/*"
  }

  expect_failures = [var.github_repository]
}

# One assertion per trust condition, so that removing any one of them from main.tf fails a
# run named after it (the combined check above would fail too, but without saying which).
run "trust_only_web_identity_from_the_github_provider" {
  command = plan

  assert {
    condition = alltrue([
      for k, d in data.aws_iam_policy_document.trust : alltrue([
        for s in d.statement : toset(s.actions) == toset(["sts:AssumeRoleWithWebIdentity"]) && length(s.principals) == 1 && alltrue([
          for p in s.principals : p.type == "Federated" && toset(p.identifiers) == toset([aws_iam_openid_connect_provider.github[0].arn])
        ])
      ])
    ])
    error_message = "Each role is assumable only with a web identity token of the GitHub provider."
  }
}

run "trust_pins_the_audience" {
  command = plan

  assert {
    condition = alltrue([
      for k, d in data.aws_iam_policy_document.trust : alltrue([
        for s in d.statement : anytrue([
          for c in s.condition : c.test == "StringEquals" && c.variable == "token.actions.githubusercontent.com:aud" && toset(c.values) == toset(["sts.amazonaws.com"])
        ])
      ])
    ])
    error_message = "Each trust must require aud = sts.amazonaws.com (StringEquals)."
  }
}

run "trust_pins_repository_and_branch_or_environment" {
  command = plan

  assert {
    condition = alltrue([
      for k, d in data.aws_iam_policy_document.trust : alltrue([
        for s in d.statement : anytrue([
          for c in s.condition : c.test == "StringEquals" && c.variable == "token.actions.githubusercontent.com:sub" && length(c.values) > 0 && alltrue([
            for v in c.values : startswith(v, "repo:example-org/transaction-validator:") && !strcontains(v, "*") && !strcontains(v, "?")
          ])
        ])
      ])
    ])
    error_message = "Each trust must require sub = this repository's exact subjects (StringEquals, no wildcard)."
  }

  assert {
    condition = alltrue([
      for k in ["apply-prod", "deploy-prod"] : anytrue([
        for s in data.aws_iam_policy_document.trust[k].statement : anytrue([
          for c in s.condition : c.variable == "token.actions.githubusercontent.com:sub" && toset(c.values) == toset(["repo:example-org/transaction-validator:environment:prod"])
        ])
      ])
    ])
    error_message = "apply and deploy: only jobs of the protected GitHub environment prod."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.trust["publish"].statement : anytrue([
        for c in s.condition : c.variable == "token.actions.githubusercontent.com:sub" && toset(c.values) == toset(["repo:example-org/transaction-validator:ref:refs/heads/main"])
      ])
    ])
    error_message = "publish: only pushes to main."
  }
}

# Every environment gets its own apply and deploy role, trusted only by its own environment.
run "one_apply_and_deploy_role_per_environment" {
  command = plan

  variables {
    environments = ["staging", "prod"]
  }

  assert {
    condition = alltrue([
      for e in ["staging", "prod"] : alltrue([
        for k in ["apply-${e}", "deploy-${e}"] : anytrue([
          for s in data.aws_iam_policy_document.trust[k].statement : anytrue([
            for c in s.condition : c.variable == "token.actions.githubusercontent.com:sub" && toset(c.values) == toset(["repo:example-org/transaction-validator:environment:${e}"])
          ])
        ])
      ])
    ])
    error_message = "apply-<env> and deploy-<env> trust only environment:<env>."
  }
}

# A deploy reads its environment's outputs from the state (ci/outputs.go): that one object,
# the workspace listing, and the state key through S3 for this bucket only; nothing else.
run "deploy_reads_exactly_its_state_object" {
  command = plan

  variables {
    state_key = "envs/prod/terraform.tfstate"
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.actions) == toset(["s3:GetObject"]) && toset(s.resources) == toset(["arn:aws:s3:::transaction-validator-tfstate-prod/envs/prod/terraform.tfstate"])
    ])
    error_message = "The deploy role must read its environment's state object."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.resources) == toset(["arn:aws:s3:::transaction-validator-tfstate-prod/envs/prod/terraform.tfstate"])
      if anytrue([for a in s.actions : a == "s3:GetObject"])
    ])
    error_message = "s3:GetObject on the state object only (no other key, no wildcard)."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.deploy[0].statement : anytrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "s3:prefix" && toset(c.values) == toset(["env:/"])
      ]) if anytrue([for a in s.actions : a == "s3:ListBucket"])
    ])
    error_message = "s3:ListBucket only for the backend's workspace prefix env:/."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.actions) == toset(["kms:Decrypt"]) && toset(s.resources) == toset([var.state_kms_key_arn]) &&
      anytrue([for c in s.condition : c.variable == "kms:ViaService" && toset(c.values) == toset(["s3.*.amazonaws.com"])]) &&
      anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "kms:EncryptionContext:aws:s3:arn" && toset(c.values) == toset(["arn:aws:s3:::transaction-validator-tfstate-prod"])])
    ])
    error_message = "The deploy role decrypts with the state key only, through S3, for the state bucket's encryption context."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.deploy[0].statement : s.actions])) == toset([
      "eks:DescribeCluster", "s3:GetObject", "s3:ListBucket", "kms:Decrypt",
      "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    ])
    error_message = "Deploy: find the cluster, read the state and the images: no writes, no lock, nothing else."
  }
}

# Without a state key the deploy role gets no state access at all.
run "deploy_without_state_key_reads_no_state" {
  command = plan

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.deploy[0].statement : s.actions])) == toset([
      "eks:DescribeCluster", "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    ])
    error_message = "Without state_key the deploy role only finds the cluster and reads the images."
  }
}

# By default the plan role reads no secret value at all.
run "plan_reads_no_secret_by_default" {
  command = plan

  assert {
    condition     = length(aws_iam_role_policy.plan_secrets) == 0 && length(data.aws_iam_policy_document.plan_secrets) == 0
    error_message = "Without plan_secret_arns, the plan role must read no secret."
  }
}

# Where allowed, exactly the given secrets, and their key only through Secrets Manager and
# only for them (encryption context SecretARN).
run "plan_reads_exactly_the_terraform_written_secrets" {
  command = plan

  variables {
    plan_secret_arns = [
      "arn:aws:secretsmanager:eu-central-1:123456789012:secret:tv-dev/redis/app-AbCdEf",
      "arn:aws:secretsmanager:eu-central-1:123456789012:secret:transaction-validator/dev/database/transaction_validator/url-AbCdEf",
    ]
    secrets_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.plan_secrets[0].statement :
      toset(s.actions) == toset(["secretsmanager:GetSecretValue"]) && toset(s.resources) == toset(var.plan_secret_arns)
    ])
    error_message = "GetSecretValue on exactly the Terraform-written secrets."
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.plan_secrets[0].statement : s.actions])) == toset(["secretsmanager:GetSecretValue", "kms:Decrypt"])
    error_message = "Read those secrets and decrypt them: nothing else."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.plan_secrets[0].statement :
      toset(s.resources) == toset(["arn:aws:kms:eu-central-1:123456789012:key/secrets"]) &&
      anytrue([for c in s.condition : c.variable == "kms:ViaService" && toset(c.values) == toset(["secretsmanager.*.amazonaws.com"])]) &&
      anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "kms:EncryptionContext:SecretARN" && toset(c.values) == toset(var.plan_secret_arns)])
      if contains(s.actions, "kms:Decrypt")
    ])
    error_message = "The secrets key only via Secrets Manager and only for those secrets."
  }
}

run "rejects_wildcard_plan_secrets" {
  command = plan

  variables {
    plan_secret_arns    = ["arn:aws:secretsmanager:eu-central-1:123456789012:secret:*"]
    secrets_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  }

  expect_failures = [var.plan_secret_arns]
}

# deploy verifies every image with cosign before it deploys (ci/sign.go): it logs in to ECR
# and reads the image, its signature and its attestations from the service repositories.
# Read only, those repositories only; the login token is the one action on *.
run "deploy_reads_images_and_their_signatures_only" {
  command = plan

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.actions) == toset(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]) &&
      toset(s.resources) == toset(var.ecr_repository_arns)
    ])
    error_message = "The deploy role must read the images, their signatures and attestations (cosign verify) from the service repositories."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.actions) == toset(["ecr:GetAuthorizationToken"]) && toset(s.resources) == toset(["*"])
    ])
    error_message = "The deploy role must log in to ECR (aws ecr get-login-password in deploy.yml)."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.deploy[0].statement :
      toset(s.actions) == toset(["ecr:GetAuthorizationToken"]) if contains(s.resources, "*")
    ])
    error_message = "Only ecr:GetAuthorizationToken (no resource-level permissions) may be on *."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.deploy[0].statement : [
        for a in s.actions : !contains(["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage"], a) && a != "ecr:*"
      ]
    ]))
    error_message = "The deploy role reads images; it never pushes or deletes them."
  }
}

# The image-signing key: ECC P-256 for signing, signed with by the publish role only; the
# deploy roles of every environment read its public key and verify. Its key policy's
# actions (sign: DescribeKey, GetPublicKey, Sign; verify: no Sign; the account none) are
# ../kms/tests' assertions; here, who is given which part.
run "image_signing_key_signed_by_publish_only" {
  command = plan

  variables {
    environments = ["staging", "prod"]
  }

  assert {
    condition     = module.image_signing_key.key_usage == "SIGN_VERIFY" && module.image_signing_key.key_spec == "ECC_NIST_P256"
    error_message = "The image-signing key must be an ECC_NIST_P256 SIGN_VERIFY key (what cosign signs with)."
  }

  assert {
    condition     = output.image_signers.sign == tolist(["arn:aws:iam::123456789012:role/tv-prod-ci-publish"])
    error_message = "The publish role, and only it, may sign with the image-signing key."
  }

  assert {
    condition = toset(output.image_signers.verify) == toset([
      "arn:aws:iam::123456789012:role/tv-prod-ci-deploy-staging", "arn:aws:iam::123456789012:role/tv-prod-ci-deploy-prod",
    ])
    error_message = "Every deploy role may read the public key and verify."
  }

  assert {
    condition     = alltrue([for a in output.image_signers.verify : !contains(output.image_signers.sign, a)])
    error_message = "A deploy role must not be able to sign."
  }

  assert {
    condition     = output.image_signing_key == "awskms:///alias/tv-prod/image-signing"
    error_message = "SIGNING_KMS_KEY is the key's alias as cosign names it."
  }

  # The key policy is the whole grant (../kms delegates no use of a signing key to IAM): no
  # IAM policy of a CI role names kms:Sign either.
  assert {
    condition = alltrue(flatten([
      for d in concat([data.aws_iam_policy_document.publish, data.aws_iam_policy_document.plan_state], data.aws_iam_policy_document.deploy) : [
        for s in d.statement : [for a in s.actions : a != "kms:Sign" && a != "kms:*"]
      ]
    ]))
    error_message = "No CI role's IAM policy may name kms:Sign."
  }
}

# Without a cluster there are no deploy roles, so the key has a signer and no verifier.
run "image_signing_key_without_deploy_roles" {
  command = plan

  variables {
    cluster_name = null
  }

  assert {
    condition     = length(output.image_signers.verify) == 0 && output.image_signers.sign == tolist(["arn:aws:iam::123456789012:role/tv-prod-ci-publish"])
    error_message = "Without deploy roles the publish role is the key's only user."
  }
}
