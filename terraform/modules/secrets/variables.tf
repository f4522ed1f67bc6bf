variable "project_id" {
  description = "GCP project that holds the secrets."
  type        = string
}

variable "secrets" {
  description = <<-EOT
    Secret id => settings.
    managed   = true: Terraform writes the value from secret_values[id];
                false: the secret starts empty and an operator adds versions.
    accessors = label => IAM member (e.g. web = "serviceAccount:...") granted
                roles/secretmanager.secretAccessor on this secret alone. Labels must be
                static strings: they form the resource keys.
  EOT
  type = map(object({
    managed   = optional(bool, false)
    accessors = optional(map(string), {})
  }))
}

variable "secret_values" {
  description = "Values of the managed secrets, by secret id."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "replica_locations" {
  description = "Regions to keep the secret payloads in; empty means automatic (Google chooses, multi-region)."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Labels for every secret."
  type        = map(string)
  default     = {}
}
