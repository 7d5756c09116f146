output "role_arn" {
  description = "ARN of the role, for the `eks.amazonaws.com/role-arn` service-account annotation."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}
