mock_provider "aws" {
  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      configuration_endpoint_address = "clustercfg.tv-test.abc.euc1.cache.amazonaws.com"
    }
  }
}

variables {
  name                = "tv-test"
  node_type           = "cache.r7g.large"
  num_shards          = 2
  replicas_per_shard  = 2
  subnet_ids          = ["subnet-a", "subnet-b", "subnet-c"]
  security_group_id   = "sg-redis"
  kms_key_arn         = "arn:aws:kms:eu-central-1:123456789012:key/data"
  secrets_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/secrets"
  logs_kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/logs"
  secret_name         = "transaction-validator/test/redis"
}

run "cluster_mode_encrypted_multi_az" {
  assert {
    condition     = aws_elasticache_replication_group.this.cluster_mode == "enabled" && aws_elasticache_replication_group.this.num_node_groups == 2
    error_message = "Redis must run in cluster mode with the requested shards."
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.parameter_group_name == aws_elasticache_parameter_group.this.name &&
      anytrue([for p in aws_elasticache_parameter_group.this.parameter : p.name == "cluster-enabled" && p.value == "yes"])
    )
    error_message = "The parameter group must enable cluster mode."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.multi_az_enabled && aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.replicas_per_node_group >= 1
    error_message = "Redis must be multi-AZ with automatic failover."
  }

  assert {
    condition     = tobool(aws_elasticache_replication_group.this.at_rest_encryption_enabled) && aws_elasticache_replication_group.this.kms_key_id == var.kms_key_arn
    error_message = "Redis must be encrypted at rest with the customer-managed key."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled && aws_elasticache_replication_group.this.transit_encryption_mode == "required"
    error_message = "Redis must require TLS in transit."
  }

  assert {
    condition     = toset(aws_elasticache_replication_group.this.user_group_ids) == toset([aws_elasticache_user_group.this.user_group_id])
    error_message = "Redis must authenticate with the RBAC user group."
  }

  assert {
    condition     = aws_elasticache_user.default.user_name == "default" && startswith(aws_elasticache_user.default.access_string, "off")
    error_message = "The built-in default user must be disabled."
  }

  assert {
    condition     = strcontains(aws_elasticache_user.app.access_string, "-@dangerous")
    error_message = "The service user must not be allowed dangerous commands."
  }

  assert {
    condition     = aws_secretsmanager_secret.app.kms_key_id == var.secrets_kms_key_arn
    error_message = "The Redis credentials secret must be encrypted with the secrets key."
  }

  assert {
    condition     = startswith(jsondecode(aws_secretsmanager_secret_version.app.secret_string).url, "rediss://transaction-validator:")
    error_message = "REDIS_ENDPOINT must be a TLS (rediss://) URL for the service user."
  }
}

run "rejects_no_replicas" {
  command = plan

  variables {
    replicas_per_shard = 0
  }

  expect_failures = [var.replicas_per_shard]
}
