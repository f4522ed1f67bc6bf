variable "project_id" {
  description = "GCP project of the service accounts."
  type        = string
}

variable "service_accounts" {
  description = <<-EOT
    Workload key (static, e.g. "web") => service account settings.
    account_id    6-30 characters, lowercase letters, digits and hyphens.
    project_roles project-level roles, e.g. roles/cloudtrace.agent. Keep this list short:
                  grant on the resource (secret, bucket) wherever the API allows it.
    sign_blobs    allow the account to sign blobs as itself (GCS signed URLs).
  EOT
  type = map(object({
    account_id    = string
    display_name  = string
    description   = optional(string, "")
    project_roles = optional(list(string), [])
    sign_blobs    = optional(bool, false)
  }))
}

variable "deployers" {
  description = "label => IAM member (e.g. a CI service account) allowed to deploy workloads running as these accounts (roles/iam.serviceAccountUser)."
  type        = map(string)
  default     = {}
}
