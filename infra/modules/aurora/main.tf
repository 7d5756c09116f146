data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  family     = "aurora-postgresql${split(".", var.engine_version)[0]}"
  # IAM names a proxy by its resource ID (prx-...), the last field of its ARN.
  proxy_resource_id = element(split(":", aws_db_proxy.this.arn), 6)
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Isolated database subnets of ${var.name}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

################################################################################
# Parameters tuned for short OLTP transactions (validation lookups and inserts)
################################################################################

resource "aws_rds_cluster_parameter_group" "this" {
  name        = "${var.name}-${local.family}"
  family      = local.family
  description = "OLTP tuning and audit logging for ${var.name}"

  dynamic "parameter" {
    for_each = {
      # Refuse clear-text connections: cardholder-data environment (PCI DSS 4.2.1).
      "rds.force_ssl" = "1"
      # Aurora storage is SSD-like: random reads cost about as much as sequential ones.
      "random_page_cost" = "1.1"
      # A validation must never hold row locks while a client goes away.
      "idle_in_transaction_session_timeout" = "60000"
      # Slow-query evidence without logging every statement (PANs never reach SQL text).
      "log_min_duration_statement" = "500"
      "log_lock_waits"             = "1"
      "log_connections"            = "1"
      "log_disconnections"         = "1"
      "track_io_timing"            = "1"
      "pg_stat_statements.track"   = "top"
    }

    content {
      name         = parameter.key
      value        = parameter.value
      apply_method = "immediate"
    }
  }

  # Static parameter: takes effect at the next reboot.
  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Cluster
################################################################################

# Created before the cluster so that exported logs get a retention and our KMS key instead
# of RDS's never-expiring default group.
resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/cluster/${var.name}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_rds_cluster" "this" {
  cluster_identifier = var.name
  engine             = "aurora-postgresql"
  engine_version     = var.engine_version
  database_name      = var.database_name
  port               = 5432

  # The master password is generated, stored and rotated (every 7 days) by RDS in Secrets
  # Manager: nobody ever types it and it never appears in Terraform state.
  master_username               = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.secrets_kms_key_arn

  # Applications log in with IAM tokens (through the proxy); no application password exists.
  iam_database_authentication_enabled = true

  storage_encrypted = true
  kms_key_id        = var.kms_key_arn

  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [var.security_group_id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name

  backup_retention_period      = var.backup_retention_days
  preferred_backup_window      = "02:00-03:00"
  preferred_maintenance_window = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot        = true
  deletion_protection          = var.deletion_protection
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${var.name}-final"
  delete_automated_backups     = false

  enabled_cloudwatch_logs_exports = ["postgresql"]

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.postgresql]

  # AWS applies minor versions in the maintenance window (auto_minor_version_upgrade on the
  # instances: security patches arrive without a change request), after which the cluster
  # runs e.g. 16.8 while engine_version still says 16.6: without this, every plan would
  # propose a "downgrade" AWS refuses. engine_version is therefore the version a cluster is
  # *created* with. A major upgrade is a deliberate operation (RDS blue/green deployment);
  # afterwards set engine_version to the new version so the parameter group family follows.
  lifecycle {
    ignore_changes = [engine_version]
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# Instances are pinned round-robin to the AZs so that the writer and its replicas can never
# end up in the same zone (RDS may otherwise co-locate them).
resource "aws_rds_cluster_instance" "this" {
  count = var.instance_count

  identifier                   = "${var.name}-${count.index + 1}"
  cluster_identifier           = aws_rds_cluster.this.id
  engine                       = aws_rds_cluster.this.engine
  engine_version               = aws_rds_cluster.this.engine_version
  instance_class               = var.instance_class
  availability_zone            = var.azs[count.index % length(var.azs)]
  db_subnet_group_name         = aws_db_subnet_group.this.name
  publicly_accessible          = false
  auto_minor_version_upgrade   = true
  ca_cert_identifier           = "rds-ca-rsa2048-g1"
  preferred_maintenance_window = "sun:03:30-sun:04:30"

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days

  monitoring_interval = 30
  monitoring_role_arn = aws_iam_role.monitoring.arn

  tags = var.tags
}

################################################################################
# RDS Proxy (connection pooling)
################################################################################

data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# What the proxy needs to log in to Aurora as the application users: in "iam" mode an IAM
# token for exactly those users (end-to-end IAM); in "password" mode their credential
# secrets, decrypted only through Secrets Manager.
data "aws_iam_policy_document" "proxy" {
  dynamic "statement" {
    for_each = var.client_auth == "iam" ? [1] : []

    content {
      sid     = "ConnectAsApplicationUsers"
      actions = ["rds-db:connect"]
      resources = [
        for user in var.iam_database_users :
        "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${aws_rds_cluster.this.cluster_resource_id}/${user}"
      ]
    }
  }

  dynamic "statement" {
    for_each = var.client_auth == "password" ? [1] : []

    content {
      sid       = "ReadApplicationUserCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for s in aws_secretsmanager_secret.credentials : s.arn]
    }
  }

  dynamic "statement" {
    for_each = var.client_auth == "password" ? [1] : []

    content {
      sid       = "DecryptThroughSecretsManager"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "proxy" {
  name               = "${var.name}-rds-proxy"
  assume_role_policy = data.aws_iam_policy_document.proxy_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "proxy" {
  name   = "connect-to-aurora"
  role   = aws_iam_role.proxy.id
  policy = data.aws_iam_policy_document.proxy.json
}

resource "aws_cloudwatch_log_group" "proxy" {
  name              = "/aws/rds/proxy/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_db_proxy" "this" {
  name                   = var.name
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.proxy.arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [var.proxy_security_group_id]
  require_tls            = true
  default_auth_scheme    = var.client_auth == "iam" ? "IAM_AUTH" : "NONE"
  idle_client_timeout    = 1800
  debug_logging          = false
  tags                   = var.tags

  # "password" mode: clients log in with the user's password (SCRAM), the proxy logs in to
  # Aurora with the same credentials read from the user's secret.
  dynamic "auth" {
    for_each = var.client_auth == "password" ? aws_secretsmanager_secret.credentials : {}

    content {
      auth_scheme               = "SECRETS"
      secret_arn                = auth.value.arn
      iam_auth                  = "DISABLED"
      client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
      description               = "database user ${auth.key}"
    }
  }

  depends_on = [aws_cloudwatch_log_group.proxy]
}

resource "aws_db_proxy_default_target_group" "this" {
  db_proxy_name = aws_db_proxy.this.name

  connection_pool_config {
    # Headroom for the master user and the rotation of its secret.
    max_connections_percent      = 90
    max_idle_connections_percent = 30
    connection_borrow_timeout    = 30
  }
}

resource "aws_db_proxy_target" "this" {
  db_proxy_name         = aws_db_proxy.this.name
  target_group_name     = aws_db_proxy_default_target_group.this.name
  db_cluster_identifier = aws_rds_cluster.this.cluster_identifier
}

################################################################################
# Application users' credentials ("password" mode)
################################################################################

# In "password" mode (what the manifests deploy today: kustomize maps a whole DATABASE_URL
# secret; the services' IAM mode, DATABASE_AUTH=iam, is not wired into them yet) each
# application user gets a generated password, kept in two secrets:
#   <prefix>/<user>      JSON {engine, host, port, username, password, dbname}: the format
#                        RDS Proxy and the AWS rotation functions read;
#   <prefix>/<user>/url  the postgres:// URL through the proxy (TLS verify-full), which
#                        External Secrets maps to DATABASE_URL as is.
# The migration job (master secret) creates each role with that password. Rotation is a
# `-replace` of the password plus a rolling restart (see README): a rotation Lambda would
# update only the JSON secret and leave running pods and the URL secret behind.
locals {
  password_users     = var.client_auth == "password" ? toset(var.iam_database_users) : toset([])
  user_secret_prefix = coalesce(var.user_secret_prefix, "${var.name}/database")
}

resource "random_password" "user" {
  for_each = local.password_users

  length  = 48
  special = false # the password travels inside a URL: alphanumerics need no escaping
}

resource "aws_secretsmanager_secret" "credentials" {
  for_each = local.password_users

  name                    = "${local.user_secret_prefix}/${each.value}"
  description             = "Aurora credentials of database user ${each.value} (${var.name})"
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "credentials" {
  for_each = local.password_users

  secret_id = aws_secretsmanager_secret.credentials[each.value].id
  secret_string = jsonencode({
    engine   = "postgres"
    host     = aws_rds_cluster.this.endpoint
    port     = 5432
    username = each.value
    password = random_password.user[each.value].result
    dbname   = var.database_name
  })
}

resource "aws_secretsmanager_secret" "url" {
  for_each = local.password_users

  name                    = "${local.user_secret_prefix}/${each.value}/url"
  description             = "DATABASE_URL of database user ${each.value} through RDS Proxy (${var.name})"
  kms_key_id              = var.secrets_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "url" {
  for_each = local.password_users

  secret_id     = aws_secretsmanager_secret.url[each.value].id
  secret_string = "postgres://${each.value}:${random_password.user[each.value].result}@${aws_db_proxy.this.endpoint}:5432/${var.database_name}?sslmode=verify-full"
}
