# One Cloud Run service running the application image: the ASGI web app, and later the
# Celery worker and beat (same image, different command).
#
# - Runs as its own service account; never the default compute account.
# - Reaches Cloud SQL and Memorystore through Direct VPC egress; only private ranges are
#   routed into the VPC, everything else (LLM providers, Google APIs) leaves directly.
# - Secrets come from Secret Manager as env vars or, for CA certificates the clients read
#   from disk, as files; nothing secret is a plain env value in the revision.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  ingress             = var.ingress
  labels              = var.labels
  deletion_protection = var.deletion_protection

  template {
    service_account                  = var.service_account_email
    timeout                          = var.request_timeout
    max_instance_request_concurrency = var.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    labels                           = var.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.network
        subnetwork = var.subnetwork
        tags       = var.network_tags
      }
    }

    containers {
      image   = var.image
      command = var.command
      args    = var.args

      # Cloud Run sends traffic and the PORT env var to this port.
      ports {
        container_port = var.container_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # true: CPU only while a request is in flight (request-based billing).
        # false: CPU always on, required for anything that works outside requests
        # (a Celery worker or beat gets no requests at all).
        cpu_idle          = var.cpu_idle
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = var.secret_files
        content {
          name       = volume_mounts.key
          mount_path = volume_mounts.value.mount_path
        }
      }

      # Startup: no traffic until the instance can reach Postgres and Redis (/readyz).
      # A revision whose instances never get there is not rolled out, and the previous one
      # keeps serving.
      dynamic "startup_probe" {
        for_each = var.startup_probe_path == null ? [] : [var.startup_probe_path]
        content {
          initial_delay_seconds = 0
          period_seconds        = 5
          timeout_seconds       = 3
          failure_threshold     = 24 # up to two minutes to come up
          http_get {
            path = startup_probe.value
          }
        }
      }

      # Liveness: restart an instance whose process stopped answering (/healthz checks
      # no dependency, so an outage of Postgres or Redis does not cause restart storms).
      dynamic "liveness_probe" {
        for_each = var.liveness_probe_path == null ? [] : [var.liveness_probe_path]
        content {
          initial_delay_seconds = 0
          period_seconds        = 30
          timeout_seconds       = 5
          failure_threshold     = 3
          http_get {
            path = liveness_probe.value
          }
        }
      }
    }

    dynamic "volumes" {
      for_each = var.secret_files
      content {
        name = volumes.key
        secret {
          secret       = volumes.value.secret
          default_mode = 292 # 0444: readable by the image's non-root user
          items {
            path    = volumes.value.file_name
            version = volumes.value.version
            mode    = 292
          }
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  # gcloud and the console stamp these on every deploy; they are not configuration.
  lifecycle {
    ignore_changes = [client, client_version]
  }
}

# Public services (the web app and API authenticate users themselves).
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = google_cloud_run_v2_service.this.location
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = google_cloud_run_v2_service.this.location
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
