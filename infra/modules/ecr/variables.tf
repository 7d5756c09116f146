variable "repository_names" {
  description = "Names of the ECR repositories to create."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images."
  type        = string
}

variable "keep_tagged_images" {
  description = "How many tagged images each repository keeps."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags added to every repository."
  type        = map(string)
  default     = {}
}
