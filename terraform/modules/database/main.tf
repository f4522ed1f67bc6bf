# Cloud SQL for PostgreSQL 16: private IP only, TLS required, daily backups with
# point-in-time recovery, deletion protection on both sides (Terraform and the API).
# pgvector needs no flag: the app's migration runs `CREATE EXTENSION vector`, which the
# application user may do because users created through the Cloud SQL API belong to
# cloudsqlsuperuser.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# Letters and digits only: the password is embedded in DATABASE_URL, and a URL-safe
# alphabet rules out escaping bugs in every client that parses it. 40 characters of
# [A-Za-z0-9] is ~238 bits.
resource "random_password" "app" {
  length  = 40
  special = false
}

resource "google_sql_database_instance" "this" {
  project          = var.project_id
  name             = var.name
  region           = var.region
  database_version = var.database_version

  # Terraform refuses to destroy or replace the instance while this is true.
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.tier
    edition           = var.edition
    availability_type = var.availability_type
    disk_type         = "PD_SSD"
    disk_size         = var.disk_size_gb
    disk_autoresize   = true

    disk_autoresize_limit = var.disk_autoresize_limit_gb

    # The API-side guard: also stops deletion from the console or gcloud.
    deletion_protection_enabled = var.deletion_protection

    user_labels = var.labels

    ip_configuration {
      ipv4_enabled       = false # no public IP at all
      private_network    = var.private_network
      allocated_ip_range = var.allocated_ip_range
      ssl_mode           = "ENCRYPTED_ONLY"
      # A per-instance CA whose certificate we hand to clients for `sslmode=verify-ca`.
      server_ca_mode = "GOOGLE_MANAGED_INTERNAL_CA"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = var.backup_start_time
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.transaction_log_retention_days

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = var.maintenance_window.day
      hour         = var.maintenance_window.hour
      update_track = "stable"
    }

    # Query Insights shows normalised statements (literals replaced), so prompts and
    # completions stored in rows do not leak into it; client addresses are not kept.
    insights_config {
      query_insights_enabled  = true
      query_string_length     = 1024
      record_application_tags = false
      record_client_address   = false
    }

    # Empty by default on purpose: statement logging (log_statement,
    # log_min_duration_statement) would write bound parameters, i.e. prompt text, to logs.
    dynamic "database_flags" {
      for_each = var.database_flags
      content {
        name  = database_flags.key
        value = database_flags.value
      }
    }
  }
}

resource "google_sql_database" "app" {
  project  = var.project_id
  instance = google_sql_database_instance.this.name
  name     = var.database_name
}

resource "google_sql_user" "app" {
  project  = var.project_id
  instance = google_sql_database_instance.this.name
  name     = var.user_name
  password = random_password.app.result

  # PostgreSQL refuses to drop a role that owns objects; leave it to go with the instance.
  deletion_policy = "ABANDON"
}
