mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  name                     = "tv-test"
  rate_limit_per_5_minutes = 1500
  logs_kms_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/logs"
}

run "managed_rules_and_rate_limit" {
  assert {
    # HCL's && does not short-circuit: try() turns "this rule has no such block" into false.
    condition = anytrue([
      for r in aws_wafv2_web_acl.this.rule : try(
        length(r.action[0].block) == 1 &&
        r.statement[0].rate_based_statement[0].limit == 1500 &&
        r.statement[0].rate_based_statement[0].aggregate_key_type == "IP",
        false
      )
    ])
    error_message = "A blocking per-IP rate-based rule with the configured limit is required."
  }

  assert {
    condition = length(setsubtract(
      ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesAmazonIpReputationList"],
      flatten([for r in aws_wafv2_web_acl.this.rule : [for m in r.statement[0].managed_rule_group_statement : m.name]])
    )) == 0
    error_message = "The AWS managed rule groups must all be enabled."
  }

  assert {
    condition     = aws_wafv2_web_acl.this.scope == "REGIONAL"
    error_message = "An ALB needs a REGIONAL web ACL."
  }

  assert {
    condition     = startswith(aws_cloudwatch_log_group.this.name, "aws-waf-logs-") && aws_cloudwatch_log_group.this.retention_in_days >= 365
    error_message = "WAF logs must go to an aws-waf-logs-* group kept >= 1 year."
  }

  assert {
    condition     = toset(aws_wafv2_web_acl_logging_configuration.this.log_destination_configs) == toset([aws_cloudwatch_log_group.this.arn])
    error_message = "WAF logging must be enabled."
  }
}
