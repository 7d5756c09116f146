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
  description = "The AWS account(s) this root may run against (the provider refuses any other, so a wrong profile cannot touch another environment). Per environment and not committed: give it as TF_VAR_allowed_account_ids='[\"<12-digit id>\"]' or -var."
  type        = list(string)

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must name at least one AWS account, each a 12-digit id (e.g. TF_VAR_allowed_account_ids='[\"111122223333\"]')."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
