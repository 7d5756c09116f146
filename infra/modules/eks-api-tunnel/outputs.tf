output "security_group_id" {
  description = "Security group of the port-forwarding host."
  value       = aws_security_group.this.id
}

output "autoscaling_group_name" {
  description = "Auto Scaling group that keeps the one instance running."
  value       = aws_autoscaling_group.this.name
}

output "instance_tag" {
  description = "Tag (key and value) that finds the instance: `aws ec2 describe-instances --filters Name=tag:<key>,Values=<value>`."
  value       = { key = local.tag_key, value = var.name }
}
