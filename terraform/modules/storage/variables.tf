variable "project_id" {
  description = "GCP project of the bucket."
  type        = string
}

variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "location" {
  description = "Bucket location; a region next to Cloud Run avoids cross-region transfer charges."
  type        = string
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted object version is kept before deletion."
  type        = number
  default     = 30
}

variable "soft_delete_retention_days" {
  description = "Soft-delete window in days (0 turns it off; 7-90 otherwise)."
  type        = number
  default     = 7
}

variable "cors_origins" {
  description = "Origins allowed to upload directly with signed URLs; empty means no CORS policy."
  type        = list(string)
  default     = []
}

variable "object_users" {
  description = "label => IAM member granted roles/storage.objectUser on this bucket (labels must be static)."
  type        = map(string)
  default     = {}
}

variable "object_viewers" {
  description = "label => IAM member granted roles/storage.objectViewer on this bucket (labels must be static)."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels for the bucket."
  type        = map(string)
  default     = {}
}
