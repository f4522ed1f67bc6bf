# A Cloud Run job: a one-off task on the application image that runs to completion,
# e.g. `python manage.py migrate`. Creating or updating the job does not run it; an
# execution is started with `gcloud run jobs execute NAME --wait` (the production env does
# that on each new image, before the web service moves to it).

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

resource "google_cloud_run_v2_job" "this" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  labels              = var.labels
  deletion_protection = var.deletion_protection

  template {
    task_count  = 1
    parallelism = 1
    labels      = var.labels

    template {
      service_account       = var.service_account_email
      timeout               = var.task_timeout
      max_retries           = var.max_retries
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

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

        resources {
          limits = {
            cpu    = var.cpu
            memory = var.memory
          }
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
  }

  lifecycle {
    ignore_changes = [client, client_version]
  }
}
