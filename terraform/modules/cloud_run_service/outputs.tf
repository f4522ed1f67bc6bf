output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.this.name
}

output "uri" {
  description = "The service's main https URL."
  value       = google_cloud_run_v2_service.this.uri
}

output "latest_ready_revision" {
  description = "Revision currently able to serve."
  value       = google_cloud_run_v2_service.this.latest_ready_revision
}
