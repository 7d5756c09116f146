output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Private endpoint of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the Kubernetes API."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_log_group_name" {
  description = "Log group of the control-plane logs."
  value       = aws_cloudwatch_log_group.cluster.name
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider (IRSA)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer_host" {
  description = "OIDC issuer without scheme, the prefix of IRSA trust-policy condition keys."
  value       = local.oidc_issuer_host
}

output "node_role_arn" {
  description = "IAM role of the managed nodes."
  value       = aws_iam_role.node.arn
}

output "node_group_names" {
  description = "Names of the managed node groups."
  value       = [for g in aws_eks_node_group.this : g.node_group_name]
}

output "vpc_cni_role_arn" {
  description = "IRSA role of kube-system/aws-node (the vpc-cni add-on)."
  value       = module.vpc_cni_irsa.role_arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for kube-system/cluster-autoscaler."
  value       = module.cluster_autoscaler_irsa.role_arn
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role for kube-system/aws-load-balancer-controller."
  value       = module.load_balancer_controller_irsa.role_arn
}

output "external_secrets_role_arn" {
  description = "IRSA role for external-secrets/external-secrets."
  value       = module.external_secrets_irsa.role_arn
}
