# The two outputs workloads reference also wait for the access bindings: Cloud Run checks
# that the service account may read every referenced secret when it creates a revision or
# starts an execution, so a workload must not be deployed before its grants exist.
output "secret_ids" {
  description = "Secret id => secret id (for Cloud Run's secret references, which take the short id)."
  value       = { for id, s in google_secret_manager_secret.this : id => s.secret_id }
  depends_on  = [google_secret_manager_secret_iam_member.accessor]
}

output "secret_names" {
  description = "Secret id => full resource name (projects/NUMBER/secrets/ID)."
  value       = { for id, s in google_secret_manager_secret.this : id => s.name }
}

# Workloads pin managed secrets to these version numbers rather than "latest": when
# Terraform writes a new value (a new DB password, a rotated Redis CA) the number changes,
# and Cloud Run rolls out a new revision that reads it.
output "managed_versions" {
  description = "Managed secret id => the version number Terraform last wrote."
  value       = { for id, v in google_secret_manager_secret_version.managed : id => v.version }
  depends_on  = [google_secret_manager_secret_iam_member.accessor]
}

output "operator_secret_ids" {
  description = "Secrets an operator must fill with `gcloud secrets versions add` before the workloads start."
  value       = sort([for id, s in var.secrets : id if !s.managed])
}
