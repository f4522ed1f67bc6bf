output "name" {
  description = "Job name (for `gcloud run jobs execute`)."
  value       = google_cloud_run_v2_job.this.name
}

output "id" {
  description = "Job resource id."
  value       = google_cloud_run_v2_job.this.id
}
