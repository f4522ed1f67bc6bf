# ---------------------------------------------------------------------------------------
# Project and naming
# ---------------------------------------------------------------------------------------

variable "project_id" {
  description = "GCP project that hosts production."
  type        = string
}

variable "region" {
  description = "Region for everything regional (Cloud Run, Cloud SQL, Memorystore, bucket, registry)."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (short: service account ids allow 30 characters)."
  type        = string
  default     = "genai"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix must be 2-15 characters: lowercase letters, digits, hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels for every resource that takes labels."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Release
# ---------------------------------------------------------------------------------------

variable "image_name" {
  description = "Image name inside the Artifact Registry repository."
  type        = string
  default     = "genai-platform"
}

variable "image_tag" {
  description = <<-EOT
    Tag of the image to run (we tag with the git SHA). Empty: only the foundation is
    created (network, database, Redis, secrets, bucket, registry, service accounts) and no
    Cloud Run job or service yet -- the first stage of the first deploy.
  EOT
  type        = string
  default     = ""
}

variable "run_migrations_on_apply" {
  description = "Execute the migrate job (gcloud run jobs execute --wait) whenever the image changes, before the web service moves to the new image. Needs gcloud where Terraform runs."
  type        = bool
  default     = true
}

variable "service_deletion_protection" {
  description = "Deletion protection on the Cloud Run services (turn off, apply, then destroy)."
  type        = bool
  default     = true
}

variable "deployers" {
  description = "label => IAM member (e.g. \"serviceAccount:ci@...\") that pushes images and deploys the workloads."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Application settings (plain environment variables)
# ---------------------------------------------------------------------------------------

variable "custom_domains" {
  description = "Hostnames users reach the web service on (mapped by a load balancer or domain mapping). The run.app host is always allowed."
  type        = list(string)
  default     = []
}

variable "firebase_project_id" {
  description = "Firebase project for sign-in (FIREBASE_PROJECT_ID); empty turns Firebase sign-in off. When set, the web service account gets roles/firebaseauth.viewer there to check token revocation."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL for every workload."
  type        = string
  default     = "INFO"
}

variable "extra_env" {
  description = "More plain environment variables for every workload (never secrets)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Secrets an operator fills (Terraform never sees their values)
# ---------------------------------------------------------------------------------------

variable "operator_secrets" {
  description = <<-EOT
    Environment variable => { secret = secret name (prefixed with name_prefix), consumers =
    workloads that read it: web, worker, beat, migrate }. Each secret must have a version
    (`gcloud secrets versions add`) before a workload that reads it is deployed. Add Stripe
    keys here when billing ships.
  EOT
  type = map(object({
    secret    = string
    consumers = list(string)
  }))
  default = {
    FIELD_ENCRYPTION_KEYS = { secret = "field-encryption-keys", consumers = ["web", "worker", "migrate"] }
    EMAIL_URL             = { secret = "email-url", consumers = ["web", "worker"] }
    OPENAI_API_KEY        = { secret = "openai-api-key", consumers = ["web", "worker"] }
    ANTHROPIC_API_KEY     = { secret = "anthropic-api-key", consumers = ["web", "worker"] }
  }

  validation {
    condition = alltrue(flatten([
      for env, s in var.operator_secrets : [for c in s.consumers : contains(["web", "worker", "beat", "migrate"], c)]
    ]))
    error_message = "operator_secrets consumers must be among web, worker, beat, migrate."
  }
}

variable "secret_replica_locations" {
  description = "Regions to pin secret payloads to (data residency); empty means automatic replication."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------
# Web service (uvicorn, ASGI)
# ---------------------------------------------------------------------------------------

variable "web_min_instances" {
  description = "Warm web instances. 1 avoids cold starts on the first request (billed while idle at the lower idle rate)."
  type        = number
  default     = 1
}

variable "web_max_instances" {
  description = "Upper bound on web instances. Each opens database connections: keep max x concurrency within Postgres' max_connections."
  type        = number
  default     = 10
}

variable "web_cpu" {
  description = "vCPUs per web instance."
  type        = string
  default     = "1"
}

variable "web_memory" {
  description = "Memory per web instance."
  type        = string
  default     = "1Gi"
}

variable "web_concurrency" {
  description = "Concurrent requests per web instance (the app is async; streaming responses mostly wait on providers)."
  type        = number
  default     = 80
}

variable "web_request_timeout" {
  description = "Longest request, SSE stream or WebSocket on the web service (Cloud Run allows up to 3600s)."
  type        = string
  default     = "3600s"
}

# ---------------------------------------------------------------------------------------
# Celery (off until the app ships Celery)
# ---------------------------------------------------------------------------------------

variable "enable_celery" {
  description = "Create the Celery worker and beat services and their service accounts."
  type        = bool
  default     = false
}

variable "celery_worker_command" {
  description = "Worker command. A Cloud Run service must listen on $PORT to pass its startup probe, so this needs to start a small health listener next to Celery (or move to Cloud Run worker pools)."
  type        = list(string)
  default     = ["celery", "--app=config", "worker", "--loglevel=INFO"]
}

variable "celery_beat_command" {
  description = "Beat command (same $PORT caveat as the worker). Exactly one beat instance runs."
  type        = list(string)
  default     = ["celery", "--app=config", "beat", "--loglevel=INFO"]
}

variable "worker_min_instances" {
  description = "Always-on worker instances (a worker gets no requests, so 0 would never scale up)."
  type        = number
  default     = 1
}

variable "worker_max_instances" {
  description = "Upper bound on worker instances."
  type        = number
  default     = 4
}

variable "worker_cpu" {
  description = "vCPUs per worker instance."
  type        = string
  default     = "1"
}

variable "worker_memory" {
  description = "Memory per worker instance."
  type        = string
  default     = "2Gi"
}

# ---------------------------------------------------------------------------------------
# Data stores
# ---------------------------------------------------------------------------------------

variable "db_tier" {
  description = "Cloud SQL tier (db-custom-VCPUS-MEMORY_MB on ENTERPRISE)."
  type        = string
  default     = "db-custom-2-7680"
}

variable "db_edition" {
  description = "Cloud SQL edition: ENTERPRISE or ENTERPRISE_PLUS."
  type        = string
  default     = "ENTERPRISE"
}

variable "db_availability_type" {
  description = "REGIONAL (HA standby, about 2x cost) or ZONAL."
  type        = string
  default     = "REGIONAL"
}

variable "db_disk_size_gb" {
  description = "Initial database disk size (grows automatically)."
  type        = number
  default     = 20
}

variable "db_flags" {
  description = "PostgreSQL flags, e.g. { max_connections = \"400\" }."
  type        = map(string)
  default     = {}
}

variable "db_deletion_protection" {
  description = "Deletion protection on the database instance (Terraform and API)."
  type        = bool
  default     = true
}

variable "redis_tier" {
  description = "Memorystore tier: STANDARD_HA or BASIC."
  type        = string
  default     = "STANDARD_HA"
}

variable "redis_memory_size_gb" {
  description = "Memorystore capacity in GiB."
  type        = number
  default     = 1
}

variable "documents_bucket_name" {
  description = "Name of the uploaded-documents bucket; null means PROJECT-PREFIX-documents."
  type        = string
  default     = null
}

variable "documents_cors_origins" {
  description = "Origins allowed to upload straight to the bucket with signed URLs (empty: none)."
  type        = list(string)
  default     = []
}
