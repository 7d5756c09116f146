output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in `azs` order."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnet IDs (EKS), in `azs` order."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Isolated database subnet IDs, in `azs` order."
  value       = aws_subnet.database[*].id
}

output "sts_vpc_endpoint_id" {
  description = "STS interface endpoint (private DNS): IRSA pods exchange their web identity through it."
  value       = aws_vpc_endpoint.sts.id
}

output "interface_endpoint_subnet_ids" {
  description = "Subnets of the interface endpoints' network interfaces: the database subnets, so a NetworkPolicy allows them as 443 to `database_subnet_cidrs`."
  value       = aws_vpc_endpoint.sts.subnet_ids
}

output "vpc_endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints (443 from the EKS nodes' group only)."
  value       = aws_security_group.vpc_endpoints.id
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs (one, or one per AZ)."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Egress IPs of the NAT gateways, for partners' allow-lists (e.g. the FX-rates API)."
  value       = aws_eip.nat[*].public_ip
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets."
  value       = aws_route_table.private[*].id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}

output "alb_security_group_id" {
  description = "Security group for the ALB (pass to the Ingress as `alb.ingress.kubernetes.io/security-groups`)."
  value       = aws_security_group.alb.id
}

output "eks_cluster_security_group_id" {
  description = "Additional security group of the EKS control plane."
  value       = aws_security_group.eks_cluster.id
}

output "eks_nodes_security_group_id" {
  description = "Security group of the EKS nodes and pods."
  value       = aws_security_group.eks_nodes.id
}

output "rds_proxy_security_group_id" {
  description = "Security group of the RDS Proxy."
  value       = aws_security_group.rds_proxy.id
}

output "aurora_security_group_id" {
  description = "Security group of the Aurora cluster."
  value       = aws_security_group.aurora.id
}

output "redis_security_group_id" {
  description = "Security group of the ElastiCache replication group."
  value       = aws_security_group.redis.id
}
