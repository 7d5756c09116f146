resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Isolated database subnets of ${var.name}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

################################################################################
# RBAC: the built-in `default` user is switched off; the service gets its own user
################################################################################

# ElastiCache passwords allow 16-128 printable characters but not @, / or quotes, and the
# password also travels inside a rediss:// URL: alphanumerics avoid every escaping issue.
resource "random_password" "default_user" {
  length  = 64
  special = false
}

resource "random_password" "app_user" {
  length  = 64
  special = false
}

# A user group must contain a user named `default`; this one can do nothing at all.
resource "aws_elasticache_user" "default" {
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = "redis"
  access_string = "off -@all"

  authentication_mode {
    type      = "password"
    passwords = [random_password.default_user.result]
  }

  tags = var.tags
}

resource "aws_elasticache_user" "app" {
  user_id       = "${var.name}-app"
  user_name     = var.app_username
  engine        = "redis"
  access_string = var.app_access_string

  authentication_mode {
    type      = "password"
    passwords = [random_password.app_user.result]
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = var.name
  engine        = "redis"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
  tags          = var.tags
}

################################################################################
# Replication group (cluster mode enabled)
################################################################################

################################################################################
# Parameters for session-like caching
################################################################################

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-redis7-cluster"
  family      = "redis7"
  description = "Cluster mode, session-like caching (${var.name})"

  parameter {
    name  = "cluster-enabled"
    value = "yes"
  }

  # Every session / idempotency entry is written with a TTL: under memory pressure evict the
  # least recently used of those, never a key written without one.
  parameter {
    name  = "maxmemory-policy"
    value = "volatile-lru"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/aws/elasticache/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "Session-like cache of transaction-validator (${var.name})"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.this.name

  # Cluster mode: data is sharded over num_node_groups shards, each with its own replicas,
  # so capacity grows by adding shards instead of a bigger node.
  cluster_mode            = "enabled"
  num_node_groups         = var.num_shards
  replicas_per_node_group = var.replicas_per_shard

  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [var.security_group_id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "01:00-02:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  notification_topic_arn     = var.notification_topic_arn

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["slow-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["engine-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "engine-log"
  }

  tags = var.tags
}

################################################################################
# Connection secret for the service (read through External Secrets)
################################################################################

resource "aws_secretsmanager_secret" "app" {
  name                    = var.secret_name
  description             = "Redis RBAC user and rediss:// URL of transaction-validator (REDIS_ENDPOINT)"
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string = jsonencode({
    username = aws_elasticache_user.app.user_name
    password = random_password.app_user.result
    host     = aws_elasticache_replication_group.this.configuration_endpoint_address
    port     = 6379
    url      = "rediss://${aws_elasticache_user.app.user_name}:${random_password.app_user.result}@${aws_elasticache_replication_group.this.configuration_endpoint_address}:6379"
  })
}
