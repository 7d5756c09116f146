# The provider still validates arguments, so mocked ARNs, ids and policy JSON must look real.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/mock" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-central-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_kms_public_key" {
    defaults = { public_key_pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n" }
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
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-central-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-central-1:123456789012:mock" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:mock-AbCdEf" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mock-bucket" }
  }
  mock_resource "aws_wafv2_web_acl" {
    defaults = { arn = "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/mock/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-central-1:123456789012:repository/mock"
      repository_url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mock"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:eu-central-1:123456789012:cluster/mock"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }] }]
      certificate_authority = [{ data = "LS0tLS1CRUdJTi0tLS0t" }]
    }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }
  mock_resource "aws_eks_node_group" {
    defaults = {
      resources = [{ autoscaling_groups = [{ name = "eks-default-asg" }], remote_access_security_group_id = "" }]
    }
  }
  mock_resource "aws_db_proxy" {
    defaults = {
      arn      = "arn:aws:rds:eu-central-1:123456789012:db-proxy:prx-0123456789abcdef0"
      endpoint = "tv-test.proxy-abc.eu-central-1.rds.amazonaws.com"
    }
  }
  mock_resource "aws_rds_cluster" {
    defaults = {
      arn                 = "arn:aws:rds:eu-central-1:123456789012:cluster:mock"
      endpoint            = "tv-test.cluster-abc.eu-central-1.rds.amazonaws.com"
      cluster_resource_id = "cluster-ABCDEFGHIJKL"
      master_user_secret  = [{ secret_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc", kms_key_id = "k", secret_status = "active" }]
    }
  }
  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      arn                            = "arn:aws:elasticache:eu-central-1:123456789012:replicationgroup:mock"
      configuration_endpoint_address = "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    }
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
    condition     = aws_kms_key.this.key_usage == "ENCRYPT_DECRYPT" && aws_kms_key.this.customer_master_key_spec == "SYMMETRIC_DEFAULT" && output.public_key_pem == null
    error_message = "Without signing, the key is a symmetric encryption key."
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

# A signing key (the pipeline's image-signing key): asymmetric P-256, no rotation (KMS has
# none for asymmetric keys), and only its signers may sign. Its verifiers read the public
# key and verify; the account administers it and may read the public key, but IAM can
# grant nobody else the use of it: no wildcard action, no Sign, Verify or CreateGrant for
# the account.
run "signing_key_only_its_signers_sign" {
  command = plan

  variables {
    alias                 = "tv-test/image-signing"
    allow_cloudwatch_logs = false
    signing = {
      key_spec      = "ECC_NIST_P256"
      signer_arns   = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
      verifier_arns = ["arn:aws:iam::123456789012:role/tv-test-ci-deploy-test"]
    }
  }

  assert {
    condition     = aws_kms_key.this.key_usage == "SIGN_VERIFY" && aws_kms_key.this.customer_master_key_spec == "ECC_NIST_P256"
    error_message = "The signing key must be an ECC_NIST_P256 SIGN_VERIFY key."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == false
    error_message = "KMS cannot rotate an asymmetric key (EnableKeyRotation is refused): rotation must be off."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.this.statement : flatten([for p in s.principals : p.identifiers])
      if contains(s.actions, "kms:Sign")
    ] == [["arn:aws:iam::123456789012:role/tv-test-ci-publish"]]
    error_message = "Exactly one statement may grant kms:Sign, to the signer only."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.sid == "SignWithTheKey" && toset(s.actions) == toset(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"])
    ])
    error_message = "The signer gets what cosign's KMS client calls to sign: DescribeKey, GetPublicKey, Sign."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.this.statement :
      s.sid == "VerifyWithTheKey" && toset(s.actions) == toset(["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"]) &&
      flatten([for p in s.principals : p.identifiers]) == ["arn:aws:iam::123456789012:role/tv-test-ci-deploy-test"]
    ])
    error_message = "The verifier may read the key and verify, nothing more."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.this.statement : [for a in s.actions : !strcontains(a, "*")]
    ]))
    error_message = "A signing key's policy names every action: a wildcard (kms:*, kms:Sign*) would reach kms:Sign."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.this.statement :
      length(setintersection(toset(s.actions), toset(["kms:Sign", "kms:Verify", "kms:CreateGrant"]))) == 0 if s.sid == "AccountAdministers"
    ])
    error_message = "The account (IAM) administers a signing key but cannot sign, verify or grant either."
  }

  assert {
    condition     = output.signer_arns == tolist(["arn:aws:iam::123456789012:role/tv-test-ci-publish"]) && output.verifier_arns == tolist(["arn:aws:iam::123456789012:role/tv-test-ci-deploy-test"])
    error_message = "The outputs must name the key policy's signers and verifiers."
  }
}

# Verifiers without AWS credentials are given the key's own public key (an output).
run "signing_key_publishes_its_public_key" {
  variables {
    allow_cloudwatch_logs = false
    signing = {
      key_spec    = "ECC_NIST_P256"
      signer_arns = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
    }
  }

  assert {
    condition     = output.public_key_pem == data.aws_kms_public_key.this[0].public_key_pem && data.aws_kms_public_key.this[0].key_id == aws_kms_alias.this.name
    error_message = "The key's own public key must be an output (what verifiers are given)."
  }
}

run "signing_key_refuses_encryption_users" {
  command = plan

  variables {
    allow_cloudwatch_logs = true
    signing = {
      key_spec    = "ECC_NIST_P256"
      signer_arns = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
    }
  }

  expect_failures = [aws_kms_key.this]
}

run "signing_key_refuses_a_spec_cosign_cannot_sign_with" {
  command = plan

  variables {
    allow_cloudwatch_logs = false
    signing = {
      key_spec    = "ECC_SECG_P256K1"
      signer_arns = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
    }
  }

  expect_failures = [var.signing]
}

run "signing_key_refuses_a_verifier_that_signs" {
  command = plan

  variables {
    allow_cloudwatch_logs = false
    signing = {
      key_spec      = "ECC_NIST_P256"
      signer_arns   = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
      verifier_arns = ["arn:aws:iam::123456789012:role/tv-test-ci-publish"]
    }
  }

  expect_failures = [var.signing]
}

run "signing_key_refuses_wildcard_principals" {
  command = plan

  variables {
    allow_cloudwatch_logs = false
    signing = {
      key_spec    = "ECC_NIST_P256"
      signer_arns = ["arn:aws:iam::123456789012:role/*"]
    }
  }

  expect_failures = [var.signing]
}
