output "emails" {
  description = "Workload key => service account email."
  value       = { for key, sa in google_service_account.this : key => sa.email }
}

output "members" {
  description = "Workload key => IAM member string (serviceAccount:EMAIL)."
  value       = { for key, sa in google_service_account.this : key => "serviceAccount:${sa.email}" }
}
