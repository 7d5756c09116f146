variable "region" {
  description = "Region of the state bucket and lock table (the environments' <env>.s3.tfbackend must match)."
  type        = string
  default     = "eu-central-1"
}

variable "environment" {
  description = "Environment whose state this account holds (one AWS account per environment)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "state_bucket_name" {
  description = "Globally unique name of the state bucket (envs/<env>.s3.tfbackend uses transaction-validator-tfstate-<env>)."
  type        = string
}

variable "lock_table_name" {
  description = "Deprecated: name of a DynamoDB lock table, only for backends that still set `dynamodb_table` (the S3 backend locks with `use_lockfile = true` in the state bucket itself). Null: no table."
  type        = string
  default     = null
}

variable "allowed_account_ids" {
  description = "The only AWS account(s) this root may run against; empty disables the guard."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
