output "name" {
  description = "Bucket name (GS_BUCKET_NAME for django-storages)."
  value       = google_storage_bucket.this.name
}

output "url" {
  description = "gs:// URL of the bucket."
  value       = google_storage_bucket.this.url
}
