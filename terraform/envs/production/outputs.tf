output "image_repository" {
  description = "Where to push the image: docker push IMAGE_REPOSITORY:TAG."
  value       = "${module.registry.image_base}/${var.image_name}"
}

output "web_url" {
  description = "The web service's URL (null until image_tag is set)."
  value       = one(module.web[*].uri)
}

output "web_run_app_host" {
  description = "Deterministic run.app host of the web service (always in DJANGO_ALLOWED_HOSTS)."
  value       = local.run_app_host
}

output "migrate_job" {
  description = "Cloud Run job that runs `manage.py migrate` (gcloud run jobs execute NAME --region REGION --wait)."
  value       = one(module.migrate[*].name)
}

output "operator_secrets_to_fill" {
  description = "Secrets that need a version added by hand before the first release."
  value       = module.secrets.operator_secret_ids
}

output "database_instance" {
  description = "Cloud SQL instance name and connection name."
  value = {
    name            = module.database.instance_name
    connection_name = module.database.connection_name
    private_ip      = module.database.private_ip
  }
}

output "redis_host" {
  description = "Memorystore private endpoint (host:port, TLS)."
  value       = "${module.redis.host}:${module.redis.port}"
}

output "documents_bucket" {
  description = "Bucket for uploaded documents (GS_BUCKET_NAME)."
  value       = module.documents.name
}

output "service_accounts" {
  description = "Workload => service account email."
  value       = module.iam.emails
}
