# One service account per workload (web, worker, beat, migrate), so each runs with only
# what it needs and audit logs say which workload did what. Never the default compute
# service account, which holds Editor on the project.
#
# This module grants project-level roles only; access to individual secrets, the bucket
# and the repository is granted on those resources by their own modules.

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
  project_bindings = merge([
    for key, sa in var.service_accounts : {
      for role in sa.project_roles : "${key}/${role}" => {
        account = key
        role    = role
      }
    }
  ]...)

  # Deployers (CI) must be allowed to "act as" a runtime account to deploy a workload
  # that runs as it.
  deployer_bindings = merge([
    for key, sa in var.service_accounts : {
      for label, member in var.deployers : "${key}/${label}" => {
        account = key
        member  = member
      }
    }
  ]...)
}

resource "google_service_account" "this" {
  for_each = var.service_accounts

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = each.value.display_name
  description  = each.value.description
}

resource "google_project_iam_member" "this" {
  for_each = local.project_bindings

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.this[each.value.account].email}"
}

# django-storages makes signed URLs on Cloud Run without a key file by asking IAM to sign
# (GS_IAM_SIGN_BLOB); that needs signBlob on the account's own identity, nothing wider.
resource "google_service_account_iam_member" "self_sign" {
  for_each = { for key, sa in var.service_accounts : key => sa if sa.sign_blobs }

  service_account_id = google_service_account.this[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.this[each.key].email}"
}

resource "google_service_account_iam_member" "deployer" {
  for_each = local.deployer_bindings

  service_account_id = google_service_account.this[each.value.account].name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value.member
}
