# Pass-through of the platform's outputs; `tofu output -json` feeds the kustomize overlays
# (kustomize/cmd/terraform-outputs).
output "transaction_validator_role_arn" {
  description = "IRSA role of transaction-validator/transaction-validator (ServiceAccount annotation eks.amazonaws.com/role-arn)."
  value       = module.platform.transaction_validator_role_arn
}

output "fx_rates_etl_role_arn" {
  description = "IRSA role of transaction-validator/fx-rates-etl."
  value       = module.platform.fx_rates_etl_role_arn
}

output "operator_console_role_arn" {
  description = "IRSA role of transaction-validator/operator-console."
  value       = module.platform.operator_console_role_arn
}

output "aws_load_balancer_controller_role_arn" {
  description = "IRSA role of kube-system/aws-load-balancer-controller."
  value       = module.platform.aws_load_balancer_controller_role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of kube-system/cluster-autoscaler."
  value       = module.platform.cluster_autoscaler_role_arn
}

output "external_secrets_role_arn" {
  description = "IRSA role of external-secrets/external-secrets."
  value       = module.platform.external_secrets_role_arn
}

output "waf_web_acl_arn" {
  description = "WAF web ACL for the Ingress annotation alb.ingress.kubernetes.io/wafv2-acl-arn."
  value       = module.platform.waf_web_acl_arn
}

output "alb_certificate_arn" {
  description = "ACM certificate for alb.ingress.kubernetes.io/certificate-arn (null until var.acm_certificate_arn is set)."
  value       = module.platform.alb_certificate_arn
}

output "alb_security_group_id" {
  description = "Security group for alb.ingress.kubernetes.io/security-groups (HTTPS in, 8080 to pods)."
  value       = module.platform.alb_security_group_id
}

output "redis_configuration_endpoint" {
  description = "Redis cluster-mode configuration endpoint (host); TLS on port 6379."
  value       = module.platform.redis_configuration_endpoint
}

output "redis_secret_arn" {
  description = "Secret with the Redis user, password, host and the full rediss:// URL (key `url` -> REDIS_ENDPOINT)."
  value       = module.platform.redis_secret_arn
}

output "pan_hmac_key_secret_arn" {
  description = "Secret holding PAN_HMAC_KEY (value put in out of band)."
  value       = module.platform.pan_hmac_key_secret_arn
}

output "fx_rates_api_key_secret_arn" {
  description = "Secret holding the FX-rates provider API key (value put in out of band)."
  value       = module.platform.fx_rates_api_key_secret_arn
}

output "secret_names" {
  description = "Secrets Manager names for ExternalSecret remoteRef.key, keyed by purpose (database_url only in \"password\" mode)."
  value       = module.platform.secret_names
}

output "database_url_secret_name" {
  description = "Secret whose whole value is transaction-validator's DATABASE_URL (postgres:// via RDS Proxy, sslmode=verify-full); null in \"iam\" mode."
  value       = module.platform.database_url_secret_name
}

output "database_url_secret_arn" {
  description = "ARN of the DATABASE_URL secret; null in \"iam\" mode."
  value       = module.platform.database_url_secret_arn
}

output "operator_console_database_url_secret_name" {
  description = "Secret whose value is operator-console's (SELECT-only) DATABASE_URL; null in \"iam\" mode."
  value       = module.platform.operator_console_database_url_secret_name
}

output "database_proxy_endpoint" {
  description = "RDS Proxy endpoint (TLS required, IAM authentication)."
  value       = module.platform.database_proxy_endpoint
}

output "database_name" {
  description = "Application database name."
  value       = module.platform.database_name
}

output "database_iam_url" {
  description = "\"iam\" mode: transaction-validator's DATABASE_URL without a password, the service passing an IAM auth token as the password; null in \"password\" mode."
  value       = module.platform.database_iam_url
}

output "operator_console_database_iam_url" {
  description = "\"iam\" mode: operator-console's (SELECT-only) DATABASE_URL without a password, logging in with an IAM auth token; null in \"password\" mode."
  value       = module.platform.operator_console_database_iam_url
}

output "database_master_secret_arn" {
  description = "RDS-managed, auto-rotated master credentials (migrations and break-glass only)."
  value       = module.platform.database_master_secret_arn
}

output "ecr_repository_urls" {
  description = "ECR repository URLs keyed by image name (kustomize images: newName)."
  value       = module.platform.ecr_repository_urls
}

output "etl_bucket_name" {
  description = "Bucket of the fx-rates-etl job."
  value       = module.platform.etl_bucket_name
}

output "etl_bucket_prefix" {
  description = "Prefix the fx-rates-etl job may write under."
  value       = module.platform.etl_bucket_prefix
}

output "region" {
  description = "AWS region of the environment."
  value       = module.platform.region
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.platform.cluster_name
}

output "cluster_endpoint" {
  description = "Private Kubernetes API endpoint."
  value       = module.platform.cluster_endpoint
}

output "vpc_id" {
  description = "VPC of the environment."
  value       = module.platform.vpc_id
}

output "vpc_cidr" {
  description = "CIDR of the VPC."
  value       = module.platform.vpc_cidr
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets (where the ALB's nodes are): NetworkPolicy ingress source."
  value       = module.platform.public_subnet_cidrs
}

output "database_subnet_cidrs" {
  description = "CIDRs of the database subnets (RDS Proxy, Aurora, Redis): NetworkPolicy egress destination."
  value       = module.platform.database_subnet_cidrs
}

output "nat_public_ips" {
  description = "Egress IPs to give partners for allow-listing."
  value       = module.platform.nat_public_ips
}

output "nat_gateway_count" {
  description = "Number of NAT gateways (1 in dev, one per AZ in prod)."
  value       = module.platform.nat_gateway_count
}

output "alerts_topic_arn" {
  description = "SNS topic receiving every alarm."
  value       = module.platform.alerts_topic_arn
}

output "fluent_bit_role_arn" {
  description = "IRSA role of logging/fluent-bit (kustomize/components/logging)."
  value       = module.platform.fluent_bit_role_arn
}

output "otel_collector_role_arn" {
  description = "IRSA role of tracing/otel-collector (kustomize/components/tracing)."
  value       = module.platform.otel_collector_role_arn
}

output "application_log_group_name" {
  description = "CloudWatch log group Fluent Bit writes container logs to."
  value       = module.platform.application_log_group_name
}

output "ci_role_arns" {
  description = "Roles of this environment's workflows (GitHub OIDC): plan (pull requests and main, read-only), apply and deploy (the GitHub environment of the same name), publish (main; ECR push). The values of infra.yml's and deploy.yml's AWS_*_ROLE_ARN variables."
  value = {
    plan    = module.ci_identities.plan_role_arn
    apply   = module.ci_identities.apply_role_arns[var.environment]
    publish = module.ci_identities.publish_role_arn
    deploy  = module.ci_identities.deploy_role_arns[var.environment]
  }
}

output "signing_kms_key" {
  description = "The image-signing key as cosign names it (awskms:///alias/tv-<env>/image-signing): deploy.yml's SIGNING_KMS_KEY. Only the publish role may sign with it."
  value       = module.ci_identities.image_signing_key
}

output "signing_kms_key_arn" {
  description = "ARN of the image-signing key (ECC_NIST_P256, SIGN_VERIFY)."
  value       = module.ci_identities.image_signing_key_arn
}

output "signing_public_key" {
  description = "The image-signing key's public key (PEM): deploy.yml's SIGNING_PUBLIC_KEY, what deploy verifies every image against."
  value       = module.ci_identities.image_signing_public_key
}

output "github_oidc_provider_arn" {
  description = "The account's GitHub Actions OIDC provider."
  value       = module.ci_identities.oidc_provider_arn
}

output "cluster_admin_role_arn" {
  description = "Break-glass cluster-admin role (MFA) of this environment."
  value       = aws_iam_role.cluster_admin.arn
}

output "eks_api_tunnel_tag" {
  description = "Tag that finds the EKS API tunnel host (.github/scripts/eks-api-tunnel.sh)."
  value       = module.eks_api_tunnel.instance_tag
}
