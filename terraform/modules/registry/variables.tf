variable "project_id" {
  description = "GCP project of the repository."
  type        = string
}

variable "location" {
  description = "Region of the repository (the same as Cloud Run's: pulls stay in-region and free)."
  type        = string
}

variable "repository_id" {
  description = "Repository id."
  type        = string
}

variable "description" {
  description = "Human description."
  type        = string
  default     = "Application container images"
}

variable "immutable_tags" {
  description = "Refuse to move an existing tag to a new image."
  type        = bool
  default     = true
}

variable "keep_recent_count" {
  description = "Newest image versions always kept, whatever their age."
  type        = number
  default     = 20
}

variable "untagged_retention_days" {
  description = "Untagged images (superseded build layers) are deleted after this many days."
  type        = number
  default     = 14
}

variable "image_retention_days" {
  description = "Any image older than this is deleted unless it is among the keep_recent_count newest."
  type        = number
  default     = 180
}

variable "writers" {
  description = "label => IAM member allowed to push (roles/artifactregistry.writer). Labels must be static."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels for the repository."
  type        = map(string)
  default     = {}
}
