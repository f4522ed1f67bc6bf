# The bucket for documents users upload to knowledge bases (django-storages' GCS backend).
# Private by construction: uniform bucket-level access (no per-object ACLs) and public
# access prevention enforced, so no IAM mistake can make an object public. Versioning plus
# soft delete make an accidental delete or overwrite recoverable.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

resource "google_storage_bucket" "this" {
  project       = var.project_id
  name          = var.name
  location      = var.location
  storage_class = "STANDARD"
  labels        = var.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Never let `terraform destroy` empty a bucket of customer documents.
  force_destroy = false

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_days * 86400
  }

  # Overwritten and deleted documents stay recoverable this long, then go.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # Uploads that were started and never finished cost storage until aborted.
  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Only needed if browsers upload straight to the bucket with signed URLs.
  dynamic "cors" {
    for_each = length(var.cors_origins) == 0 ? [] : [1]
    content {
      origin          = var.cors_origins
      method          = ["GET", "PUT", "POST", "HEAD"]
      response_header = ["Content-Type", "Content-MD5", "x-goog-resumable"]
      max_age_seconds = 3600
    }
  }
}

# roles/storage.objectUser: read, write and delete objects; no bucket settings, no IAM.
resource "google_storage_bucket_iam_member" "object_user" {
  for_each = var.object_users

  bucket = google_storage_bucket.this.name
  role   = "roles/storage.objectUser"
  member = each.value
}

resource "google_storage_bucket_iam_member" "object_viewer" {
  for_each = var.object_viewers

  bucket = google_storage_bucket.this.name
  role   = "roles/storage.objectViewer"
  member = each.value
}
