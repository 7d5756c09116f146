# The one root of every environment: which environment is planned is chosen by the var file
# (<env>.tfvars) and the backend configuration (<env>.s3.tfbackend), see README.md.
module "platform" {
  source = "../modules/platform"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  environment                                = var.environment
  azs                                        = var.azs
  vpc_cidr                                   = var.vpc_cidr
  single_nat_gateway                         = var.single_nat_gateway
  cluster_admin_cidrs                        = var.cluster_admin_cidrs
  cluster_admin_principal_arns               = var.cluster_admin_principal_arns
  kubernetes_version                         = var.kubernetes_version
  node_groups                                = var.node_groups
  deletion_protection                        = var.deletion_protection
  database_client_auth                       = var.database_client_auth
  aurora_engine_version                      = var.aurora_engine_version
  aurora_instance_class                      = var.aurora_instance_class
  aurora_instance_count                      = var.aurora_instance_count
  aurora_backup_retention_days               = var.aurora_backup_retention_days
  aurora_performance_insights_retention_days = var.aurora_performance_insights_retention_days
  redis_node_type                            = var.redis_node_type
  redis_num_shards                           = var.redis_num_shards
  redis_replicas_per_shard                   = var.redis_replicas_per_shard
  waf_rate_limit_per_5_minutes               = var.waf_rate_limit_per_5_minutes
  etl_bucket_name                            = var.etl_bucket_name
  etl_bucket_force_destroy                   = var.etl_bucket_force_destroy
  audit_bucket_name                          = var.audit_bucket_name
  audit_bucket_force_destroy                 = var.audit_bucket_force_destroy
  acm_certificate_arn                        = var.acm_certificate_arn
  alb_arn_suffix                             = var.alb_arn_suffix
  alert_emails                               = var.alert_emails
  alert_https_endpoints                      = var.alert_https_endpoints
  log_retention_days                         = var.log_retention_days
  secret_recovery_window_days                = var.secret_recovery_window_days
  kms_deletion_window_days                   = var.kms_deletion_window_days
  create_autoscaling_service_linked_role     = var.create_autoscaling_service_linked_role
  dr                                         = var.dr
  tags                                       = var.tags
}
