# Production on GCP: Cloud Run (web; later Celery worker and beat) + a migrate job,
# Cloud SQL PostgreSQL 16 (pgvector), Memorystore Redis, Secret Manager, a documents
# bucket and Artifact Registry, all on a private VPC. See ../../README.md for the deploy
# order.
#
# Two stages, one variable: with image_tag = "" only the foundation is created; setting
# image_tag creates or updates the migrate job, runs it, and then rolls the web service
# (and Celery, if enabled) onto the image.

locals {
  p      = var.name_prefix
  deploy = var.image_tag != ""
  image  = "${module.registry.image_base}/${var.image_name}:${var.image_tag}"

  labels = merge({
    app         = "genai-platform"
    environment = "production"
    managed-by  = "terraform"
  }, var.labels)

  # Every workload has its own service account; Celery ones exist only once enabled.
  workloads = concat(["web", "migrate"], var.enable_celery ? ["worker", "beat"] : [])

  web_name = "${local.p}-web"

  # Cloud Run's deterministic URL, known before the service exists, so it can go into
  # DJANGO_ALLOWED_HOSTS of the service itself.
  run_app_host  = "${local.web_name}-${data.google_project.this.number}.${var.region}.run.app"
  allowed_hosts = concat([local.run_app_host], var.custom_domains)

  # ----- secrets -----------------------------------------------------------------------

  # Environment variable => secret (without prefix) for the values Terraform generates.
  generated_env_secrets = {
    DJANGO_SECRET_KEY = "django-secret-key"
    DATABASE_URL      = "database-url"
    REDIS_URL         = "redis-url"
  }

  # The server CAs of Cloud SQL and Memorystore, mounted as files because the clients read
  # them from a path (libpq's sslrootcert, redis-py's ssl_ca_certs). Volume name => secret.
  ca_files = {
    postgres-ca = { secret = "postgres-server-ca", mount_path = "/secrets/postgres-ca" }
    redis-ca    = { secret = "redis-server-ca", mount_path = "/secrets/redis-ca" }
  }

  # sslmode=verify-ca: encrypted and the server proven to hold a certificate from this
  # instance's own CA. (verify-full is impossible: the certificate does not name the IP.)
  database_url = format(
    "postgres://%s:%s@%s:5432/%s?sslmode=verify-ca&sslrootcert=%s/ca.pem",
    module.database.user_name,
    module.database.password,
    module.database.private_ip,
    module.database.database_name,
    local.ca_files["postgres-ca"].mount_path,
  )

  # rediss:// with the instance's CA. ssl_check_hostname=false because Memorystore's
  # certificate names the IP only in its CN, which Python's TLS does not match; the chain
  # must still verify against this instance's unique CA, which is what proves the server.
  redis_url = format(
    "rediss://:%s@%s:%d/0?ssl_cert_reqs=required&ssl_ca_certs=%s/ca.pem&ssl_check_hostname=false",
    urlencode(module.redis.auth_string),
    module.redis.host,
    module.redis.port,
    local.ca_files["redis-ca"].mount_path,
  )

  all_readers = { for w in local.workloads : w => module.iam.members[w] }

  secrets = merge(
    { for env, s in local.generated_env_secrets : "${local.p}-${s}" => { managed = true, accessors = local.all_readers } },
    { for vol, f in local.ca_files : "${local.p}-${f.secret}" => { managed = true, accessors = local.all_readers } },
    {
      for env, s in var.operator_secrets : "${local.p}-${s.secret}" => {
        managed   = false
        accessors = { for w in s.consumers : w => module.iam.members[w] if contains(local.workloads, w) }
      }
    },
  )

  secret_values = {
    "${local.p}-django-secret-key"  = random_password.django_secret_key.result
    "${local.p}-database-url"       = local.database_url
    "${local.p}-redis-url"          = local.redis_url
    "${local.p}-postgres-server-ca" = module.database.server_ca_pem
    "${local.p}-redis-server-ca"    = module.redis.server_ca_pem
  }

  # Per workload: generated secrets pinned to the version Terraform wrote (a new value
  # rolls a new revision); operator secrets at "latest" (picked up on the next deploy).
  secret_env = {
    for w in local.workloads : w => merge(
      {
        for env, s in local.generated_env_secrets : env => {
          secret  = module.secrets.secret_ids["${local.p}-${s}"]
          version = module.secrets.managed_versions["${local.p}-${s}"]
        }
      },
      {
        for env, s in var.operator_secrets : env => {
          secret  = module.secrets.secret_ids["${local.p}-${s.secret}"]
          version = "latest"
        } if contains(s.consumers, w)
      },
    )
  }

  secret_files = {
    for vol, f in local.ca_files : vol => {
      secret     = module.secrets.secret_ids["${local.p}-${f.secret}"]
      mount_path = f.mount_path
      file_name  = "ca.pem"
      version    = module.secrets.managed_versions["${local.p}-${f.secret}"]
    }
  }

  # ----- plain environment ---------------------------------------------------------------

  app_env = merge({
    DJANGO_SETTINGS_MODULE      = "config.django.production"
    DJANGO_ALLOWED_HOSTS        = join(",", local.allowed_hosts)
    DJANGO_CSRF_TRUSTED_ORIGINS = join(",", [for h in local.allowed_hosts : "https://${h}"])
    # Redis down means 503: nothing bypasses rate limits or budgets.
    REDIS_FAILURE_POLICY = "reject"
    # Cloud Run's front end is the one proxy that appends to X-Forwarded-For. Put an
    # external HTTPS load balancer in front and this becomes 2.
    TRUSTED_PROXY_COUNT = "1"
    FIREBASE_PROJECT_ID = var.firebase_project_id
    LOG_LEVEL           = var.log_level
    # Read once django-storages is wired to GCS.
    GS_BUCKET_NAME = module.documents.name
  }, var.extra_env)

  network_settings = {
    network      = module.network.network_name
    subnetwork   = module.network.run_subnetwork_name
    network_tags = [module.network.run_network_tag]
  }

  # Telemetry write-only roles for the workloads that serve or process requests.
  telemetry_roles = ["roles/cloudtrace.agent", "roles/monitoring.metricWriter"]

  service_accounts = {
    web = {
      account_id    = "${local.p}-web"
      display_name  = "Cloud Run: web (ASGI)"
      description   = "Serves the web app, the inference API and WebSockets."
      project_roles = local.telemetry_roles
      sign_blobs    = true # signed URLs for uploaded documents
    }
    migrate = {
      account_id    = "${local.p}-migrate"
      display_name  = "Cloud Run job: migrate"
      description   = "Runs Django migrations before each release."
      project_roles = []
      sign_blobs    = false
    }
    worker = {
      account_id    = "${local.p}-worker"
      display_name  = "Cloud Run: Celery worker"
      description   = "Runs background tasks (document ingestion, rollups)."
      project_roles = local.telemetry_roles
      sign_blobs    = false
    }
    beat = {
      account_id    = "${local.p}-beat"
      display_name  = "Cloud Run: Celery beat"
      description   = "Enqueues periodic tasks."
      project_roles = []
      sign_blobs    = false
    }
  }
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "this" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}

# Django's SECRET_KEY. Letters and digits only, so no shell or URL quoting surprises.
resource "random_password" "django_secret_key" {
  length  = 64
  special = false
}

# ---------------------------------------------------------------------------------------
# Foundation
# ---------------------------------------------------------------------------------------

module "network" {
  source = "../../modules/network"

  project_id = var.project_id
  region     = var.region
  name       = local.p

  depends_on = [google_project_service.this]
}

module "iam" {
  source = "../../modules/iam"

  project_id       = var.project_id
  service_accounts = { for key, sa in local.service_accounts : key => sa if contains(local.workloads, key) }
  deployers        = var.deployers

  depends_on = [google_project_service.this]
}

module "registry" {
  source = "../../modules/registry"

  project_id    = var.project_id
  location      = var.region
  repository_id = local.p
  writers       = var.deployers
  labels        = local.labels

  depends_on = [google_project_service.this]
}

module "database" {
  source = "../../modules/database"

  project_id          = var.project_id
  region              = var.region
  name                = "${local.p}-postgres"
  tier                = var.db_tier
  edition             = var.db_edition
  availability_type   = var.db_availability_type
  disk_size_gb        = var.db_disk_size_gb
  database_flags      = var.db_flags
  private_network     = module.network.private_network_id
  allocated_ip_range  = module.network.private_services_range_name
  deletion_protection = var.db_deletion_protection
  labels              = local.labels
}

module "redis" {
  source = "../../modules/redis"

  project_id         = var.project_id
  region             = var.region
  name               = "${local.p}-redis"
  tier               = var.redis_tier
  memory_size_gb     = var.redis_memory_size_gb
  authorized_network = module.network.private_network_id
  reserved_ip_range  = module.network.private_services_range_name
  labels             = local.labels
}

module "secrets" {
  source = "../../modules/secrets"

  project_id        = var.project_id
  secrets           = local.secrets
  secret_values     = local.secret_values
  replica_locations = var.secret_replica_locations
  labels            = local.labels

  depends_on = [google_project_service.this]
}

module "documents" {
  source = "../../modules/storage"

  project_id   = var.project_id
  name         = coalesce(var.documents_bucket_name, "${var.project_id}-${local.p}-documents")
  location     = var.region
  cors_origins = var.documents_cors_origins
  object_users = { for w in ["web", "worker"] : w => module.iam.members[w] if contains(local.workloads, w) }
  labels       = local.labels

  depends_on = [google_project_service.this]
}

# FIREBASE_CHECK_REVOKED (on by default) makes firebase-admin look the user up in
# Firebase Auth on sign-in, which needs read access to that project's users.
resource "google_project_iam_member" "web_firebase_auth_viewer" {
  count = var.firebase_project_id == "" ? 0 : 1

  project = var.firebase_project_id
  role    = "roles/firebaseauth.viewer"
  member  = module.iam.members["web"]
}

# ---------------------------------------------------------------------------------------
# Release: migrate job, then the services
# ---------------------------------------------------------------------------------------

module "migrate" {
  source = "../../modules/cloud_run_job"
  count  = local.deploy ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${local.p}-migrate"
  image                 = local.image
  command               = ["python", "manage.py"]
  args                  = ["migrate", "--noinput"]
  service_account_email = module.iam.emails["migrate"]
  env                   = local.app_env
  secret_env            = local.secret_env["migrate"]
  secret_files          = local.secret_files
  network               = local.network_settings.network
  subnetwork            = local.network_settings.subnetwork
  network_tags          = local.network_settings.network_tags
  labels                = merge(local.labels, { component = "migrate" })
}

# Run the migrations for each new image and wait for them: the web service below depends
# on this, so it never serves an image whose migrations have not been applied. A failed
# migration fails the apply and leaves the previous revision serving. Migrations must be
# backwards compatible (expand, then contract in a later release): the old revision keeps
# serving while they run.
resource "terraform_data" "migrate" {
  count = local.deploy && var.run_migrations_on_apply ? 1 : 0

  triggers_replace = [local.image]

  provisioner "local-exec" {
    command = "gcloud run jobs execute ${module.migrate[0].name} --project=${var.project_id} --region=${var.region} --wait"
  }
}

module "web" {
  source = "../../modules/cloud_run_service"
  count  = local.deploy ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = local.web_name
  image                 = local.image
  service_account_email = module.iam.emails["web"]
  env                   = local.app_env
  secret_env            = local.secret_env["web"]
  secret_files          = local.secret_files

  cpu             = var.web_cpu
  memory          = var.web_memory
  min_instances   = var.web_min_instances
  max_instances   = var.web_max_instances
  concurrency     = var.web_concurrency
  request_timeout = var.web_request_timeout

  # Public: the app and the API authenticate users and API keys themselves.
  ingress               = "INGRESS_TRAFFIC_ALL"
  allow_unauthenticated = true

  startup_probe_path  = "/readyz"
  liveness_probe_path = "/healthz"

  network      = local.network_settings.network
  subnetwork   = local.network_settings.subnetwork
  network_tags = local.network_settings.network_tags
  labels       = merge(local.labels, { component = "web" })

  deletion_protection = var.service_deletion_protection

  depends_on = [terraform_data.migrate]
}

module "worker" {
  source = "../../modules/cloud_run_service"
  count  = local.deploy && var.enable_celery ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${local.p}-worker"
  image                 = local.image
  command               = var.celery_worker_command
  service_account_email = module.iam.emails["worker"]
  env                   = local.app_env
  secret_env            = local.secret_env["worker"]
  secret_files          = local.secret_files

  cpu           = var.worker_cpu
  memory        = var.worker_memory
  cpu_idle      = false # no requests arrive: CPU must stay on for tasks to run
  min_instances = var.worker_min_instances
  max_instances = var.worker_max_instances

  # Nobody calls a worker over HTTP.
  ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  network      = local.network_settings.network
  subnetwork   = local.network_settings.subnetwork
  network_tags = local.network_settings.network_tags
  labels       = merge(local.labels, { component = "worker" })

  deletion_protection = var.service_deletion_protection

  depends_on = [terraform_data.migrate]
}

module "beat" {
  source = "../../modules/cloud_run_service"
  count  = local.deploy && var.enable_celery ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${local.p}-beat"
  image                 = local.image
  command               = var.celery_beat_command
  service_account_email = module.iam.emails["beat"]
  env                   = local.app_env
  secret_env            = local.secret_env["beat"]
  secret_files          = local.secret_files

  cpu      = "1"
  memory   = "512Mi"
  cpu_idle = false
  # One scheduler: two would enqueue every periodic task twice. (During a rollout the old
  # and new revisions overlap for a few seconds, so periodic tasks must be idempotent.)
  min_instances = 1
  max_instances = 1

  ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  network      = local.network_settings.network
  subnetwork   = local.network_settings.subnetwork
  network_tags = local.network_settings.network_tags
  labels       = merge(local.labels, { component = "beat" })

  deletion_protection = var.service_deletion_protection

  depends_on = [terraform_data.migrate]
}
