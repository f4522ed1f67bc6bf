variable "project_id" {
  description = "GCP project of the job."
  type        = string
}

variable "region" {
  description = "Region of the job."
  type        = string
}

variable "name" {
  description = "Job name."
  type        = string
}

variable "image" {
  description = "Full image reference."
  type        = string
}

variable "command" {
  description = "Entrypoint override; null keeps the image's."
  type        = list(string)
  default     = null
}

variable "args" {
  description = "Arguments; `gcloud run jobs execute --args=...` can replace them for a single execution."
  type        = list(string)
  default     = null
}

variable "service_account_email" {
  description = "Identity the job runs as."
  type        = string
}

variable "env" {
  description = "Plain (non-secret) environment variables."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: NAME => { secret, version }."
  type = map(object({
    secret  = string
    version = optional(string, "latest")
  }))
  default = {}
}

variable "secret_files" {
  description = "Secrets mounted as files: volume name => { secret, mount_path, file_name, version }."
  type = map(object({
    secret     = string
    mount_path = string
    file_name  = string
    version    = optional(string, "latest")
  }))
  default = {}
}

variable "cpu" {
  description = "vCPUs for the task."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory for the task."
  type        = string
  default     = "1Gi"
}

variable "task_timeout" {
  description = "Longest one attempt may run, e.g. \"1800s\"."
  type        = string
  default     = "1800s"
}

variable "max_retries" {
  description = "Retries after a failed attempt. 0 for migrations: a failure should stop the deploy and reach a person, not repeat."
  type        = number
  default     = 0
}

variable "network" {
  description = "VPC name for Direct VPC egress."
  type        = string
}

variable "subnetwork" {
  description = "Subnet name for Direct VPC egress."
  type        = string
}

variable "network_tags" {
  description = "Network tags the task carries (matched by the VPC egress firewall rules)."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to delete the job from Terraform (a job holds no data; off by default)."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels for the job and its executions."
  type        = map(string)
  default     = {}
}
