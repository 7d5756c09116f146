################################################################################
# Values the kustomize overlays need
################################################################################

output "transaction_validator_role_arn" {
  description = "IRSA role of transaction-validator/transaction-validator (ServiceAccount annotation eks.amazonaws.com/role-arn)."
  value       = module.transaction_validator_irsa.role_arn
}

output "fx_rates_etl_role_arn" {
  description = "IRSA role of transaction-validator/fx-rates-etl."
  value       = module.fx_rates_etl_irsa.role_arn
}

output "operator_console_role_arn" {
  description = "IRSA role of transaction-validator/operator-console."
  value       = module.operator_console_irsa.role_arn
}

output "aws_load_balancer_controller_role_arn" {
  description = "IRSA role of kube-system/aws-load-balancer-controller."
  value       = module.eks.load_balancer_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of kube-system/cluster-autoscaler."
  value       = module.eks.cluster_autoscaler_role_arn
}

output "external_secrets_role_arn" {
  description = "IRSA role of external-secrets/external-secrets."
  value       = module.eks.external_secrets_role_arn
}

output "waf_web_acl_arn" {
  description = "WAF web ACL for the Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn."
  value       = module.waf.web_acl_arn
}

output "alb_certificate_arn" {
  description = "ACM certificate for alb.ingress.kubernetes.io/certificate-arn (null until var.acm_certificate_arn is set)."
  value       = var.acm_certificate_arn
}

output "alb_security_group_id" {
  description = "Security group for alb.ingress.kubernetes.io/security-groups (HTTPS in, 8080 to pods)."
  value       = module.network.alb_security_group_id
}

output "redis_configuration_endpoint" {
  description = "Redis cluster-mode configuration endpoint (host); TLS on port 6379."
  value       = module.redis.configuration_endpoint
}

output "redis_secret_arn" {
  description = "Secret with the Redis user, password, host and the full rediss:// URL (key `url` -> REDIS_ENDPOINT)."
  value       = module.redis.secret_arn
}

output "pan_hmac_key_secret_arn" {
  description = "Secret holding PAN_HMAC_KEY (value put in out of band)."
  value       = module.secrets.secret_arns["pan_hmac_key"]
}

output "fx_rates_api_key_secret_arn" {
  description = "Secret holding the FX-rates provider API key (value put in out of band)."
  value       = module.secrets.secret_arns["fx_rates_api_key"]
}

output "secret_names" {
  description = "Secrets Manager names for ExternalSecret remoteRef.key, keyed by purpose (database_url only in \"password\" mode)."
  value = merge(
    module.secrets.secret_names,
    { redis = "${local.app_namespace}/${var.environment}/redis" },
    { for k, v in module.aurora.user_url_secret_names : "database_url" => v if k == "transaction_validator" },
  )
}

output "database_url_secret_name" {
  description = "Secret whose whole value is transaction-validator's DATABASE_URL (postgres:// via RDS Proxy, sslmode=verify-full); null in \"iam\" mode."
  value       = lookup(module.aurora.user_url_secret_names, "transaction_validator", null)
}

output "database_url_secret_arn" {
  description = "ARN of the DATABASE_URL secret; null in \"iam\" mode."
  value       = lookup(module.aurora.user_url_secret_arns, "transaction_validator", null)
}

output "operator_console_database_url_secret_name" {
  description = "Secret whose value is operator-console's (SELECT-only) DATABASE_URL; null in \"iam\" mode."
  value       = lookup(module.aurora.user_url_secret_names, "operator_console", null)
}

output "database_proxy_endpoint" {
  description = "RDS Proxy endpoint (TLS required, IAM authentication)."
  value       = module.aurora.proxy_endpoint
}

output "database_name" {
  description = "Application database name."
  value       = module.aurora.database_name
}

# "iam" mode: each user's DATABASE_URL has no password (the service signs a 15-minute token
# per connection, DATABASE_AUTH=iam) and must verify the proxy's certificate, which the
# service refuses to start without. Null in "password" mode, so kustomize/tfoutputs can tell
# the modes apart and a manifest never gets a URL the proxy would refuse.
locals {
  database_iam_urls = {
    for user in ["transaction_validator", "operator_console"] :
    user => var.database_client_auth == "iam" ? "postgres://${user}@${module.aurora.proxy_endpoint}:5432/${module.aurora.database_name}?sslmode=verify-full" : null
  }
}

output "database_iam_url" {
  description = "\"iam\" mode: transaction-validator's DATABASE_URL without a password, the service passing an IAM auth token as the password; null in \"password\" mode."
  value       = local.database_iam_urls["transaction_validator"]
}

output "operator_console_database_iam_url" {
  description = "\"iam\" mode: operator-console's (SELECT-only) DATABASE_URL without a password, logging in with an IAM auth token; null in \"password\" mode."
  value       = local.database_iam_urls["operator_console"]
}

output "database_master_secret_arn" {
  description = "RDS-managed, auto-rotated master credentials (migrations and break-glass only)."
  value       = module.aurora.master_user_secret_arn
}

output "ecr_repository_urls" {
  description = "ECR repository URLs keyed by image name (kustomize images: newName)."
  value       = module.ecr.repository_urls
}

output "etl_bucket_name" {
  description = "Bucket of the fx-rates-etl job."
  value       = module.etl_bucket.bucket_name
}

output "etl_bucket_prefix" {
  description = "Prefix the fx-rates-etl job may write under."
  value       = "fx-rates/"
}

################################################################################
# Operations
################################################################################

output "region" {
  description = "AWS region of the environment."
  value       = local.region
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Private Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "vpc_id" {
  description = "VPC of the environment."
  value       = module.network.vpc_id
}

output "vpc_cidr" {
  description = "CIDR of the VPC."
  value       = module.network.vpc_cidr
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets (where the ALB's nodes are): NetworkPolicy ingress source."
  value       = local.public_subnet_cidrs
}

output "database_subnet_cidrs" {
  description = "CIDRs of the database subnets (RDS Proxy, Aurora, Redis): NetworkPolicy egress destination."
  value       = local.database_subnet_cidrs
}

output "nat_public_ips" {
  description = "Egress IPs to give partners for allow-listing."
  value       = module.network.nat_public_ips
}

output "nat_gateway_count" {
  description = "Number of NAT gateways (1 in dev, one per AZ in prod)."
  value       = length(module.network.nat_gateway_ids)
}

output "alerts_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.observability.alerts_topic_arn
}

output "fluent_bit_role_arn" {
  description = "IRSA role of logging/fluent-bit (kustomize/components/logging)."
  value       = module.fluent_bit_irsa.role_arn
}

output "otel_collector_role_arn" {
  description = "IRSA role of tracing/otel-collector (kustomize/components/tracing)."
  value       = module.otel_collector_irsa.role_arn
}

output "application_log_group_name" {
  description = "CloudWatch log group Fluent Bit writes container logs to."
  value       = module.observability.container_insights_log_groups["application"]
}

output "autoscaling_service_linked_role_arn" {
  description = "The Auto Scaling service-linked role named in the data key's policy (it encrypts the nodes' EBS volumes)."
  value       = local.autoscaling_service_linked_role_arn
}

output "private_subnet_ids" {
  description = "Private subnets (nodes, and the CI's EKS API tunnel host), one per AZ."
  value       = module.network.private_subnet_ids
}

output "eks_cluster_security_group_id" {
  description = "Security group of the EKS control plane's private endpoint."
  value       = module.network.eks_cluster_security_group_id
}

output "ecr_repository_arns" {
  description = "ECR repository ARNs keyed by image name (the only repositories the CI publish role may push to)."
  value       = module.ecr.repository_arns
}

output "data_kms_key_arn" {
  description = "KMS key of Aurora, Redis, S3, ECR and EBS data."
  value       = module.kms_data.key_arn
}

output "secrets_kms_key_arn" {
  description = "KMS key of the Secrets Manager secrets (and of Kubernetes Secrets' envelope encryption)."
  value       = module.kms_secrets.key_arn
}

output "terraform_written_secret_arns" {
  description = "Secrets whose values Terraform writes (the Redis user's; in \"password\" mode the database users' credentials and URLs): what a refreshing plan reads with GetSecretValue."
  value = concat(
    [module.redis.secret_arn],
    values(module.aurora.user_credentials_secret_arns),
    values(module.aurora.user_url_secret_arns),
  )
}

output "dr_backup" {
  description = "Where the cross-region copies are (null when dr.enabled is false): the DR region, its vault, and the primary vault; the restore drill of docs/disaster-recovery.md starts from them."
  value = var.dr.enabled ? {
    region       = module.backup[0].dr_region
    vault_name   = module.backup[0].dr_vault_name
    vault_arn    = module.backup[0].dr_vault_arn
    source_vault = module.backup[0].vault_arn
  } : null
}
