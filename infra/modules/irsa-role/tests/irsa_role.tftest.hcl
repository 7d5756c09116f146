mock_provider "aws" {}

variables {
  name              = "tv-test-transaction-validator"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLE"
  oidc_issuer_host  = "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLE"
  namespace         = "transaction-validator"
  service_account   = "transaction-validator"
  policy_json       = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
}

run "trusts_exactly_one_service_account" {
  assert {
    condition = anytrue([
      for c in data.aws_iam_policy_document.assume.statement[0].condition :
      c.test == "StringEquals" && c.variable == "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLE:sub" && toset(c.values) == toset(["system:serviceaccount:transaction-validator:transaction-validator"])
    ])
    error_message = "The trust policy must pin sub to exactly transaction-validator/transaction-validator (StringEquals)."
  }

  assert {
    condition = anytrue([
      for c in data.aws_iam_policy_document.assume.statement[0].condition :
      c.test == "StringEquals" && c.variable == "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLE:aud" && toset(c.values) == toset(["sts.amazonaws.com"])
    ])
    error_message = "The trust policy must pin the token audience to STS."
  }

  assert {
    condition     = toset(data.aws_iam_policy_document.assume.statement[0].actions) == toset(["sts:AssumeRoleWithWebIdentity"])
    error_message = "Only web-identity federation may assume the role."
  }

  assert {
    condition     = length(aws_iam_role_policy.this) == 1 && aws_iam_role_policy.this[0].policy == var.policy_json
    error_message = "The given policy must be attached inline."
  }
}

run "rejects_wildcard_service_account" {
  command = plan

  variables {
    service_account = "*"
  }

  expect_failures = [var.service_account]
}
