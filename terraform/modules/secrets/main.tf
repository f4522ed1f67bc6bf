# Secret Manager secrets and who may read each one.
#
# Two kinds of secret:
# - managed: Terraform writes the value (it derives from resources Terraform owns: the
#   database password, the Redis AUTH string, the server CAs, the Django secret key);
# - operator: Terraform creates the empty secret and its access bindings; a person adds
#   versions with `gcloud secrets versions add` (provider API keys, Stripe keys, SMTP URL),
#   so those values never pass through Terraform state.
#
# Access is granted per secret, never project-wide, so each service account reads only
# the secrets its workload needs.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

locals {
  managed = { for id, s in var.secrets : id => s if s.managed }

  # One binding per (secret, reader). Keys are built from the static labels the caller
  # chose, never from service account emails, so they are known at plan time.
  accessor_bindings = merge([
    for id, s in var.secrets : {
      for label, member in s.accessors : "${id}/${label}" => {
        secret_id = id
        member    = member
      }
    }
  ]...)
}

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.key
  labels    = merge(var.labels, { kind = each.value.managed ? "managed" : "operator" })

  replication {
    dynamic "auto" {
      for_each = length(var.replica_locations) == 0 ? [1] : []
      content {}
    }

    dynamic "user_managed" {
      for_each = length(var.replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.replica_locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }
}

resource "google_secret_manager_secret_version" "managed" {
  for_each = local.managed

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = var.secret_values[each.key]
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.accessor_bindings

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret_id].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
