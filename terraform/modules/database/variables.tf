variable "project_id" {
  description = "GCP project of the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance (keep it next to Cloud Run)."
  type        = string
}

variable "name" {
  description = "Instance name. Cloud SQL does not let a deleted name be reused for about a week."
  type        = string
}

variable "database_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "POSTGRES_16"
}

variable "edition" {
  description = "ENTERPRISE (db-custom-* tiers) or ENTERPRISE_PLUS (db-perf-optimized-* tiers, data cache, 35-day PITR)."
  type        = string
  default     = "ENTERPRISE"

  validation {
    condition     = contains(["ENTERPRISE", "ENTERPRISE_PLUS"], var.edition)
    error_message = "edition must be ENTERPRISE or ENTERPRISE_PLUS."
  }
}

variable "tier" {
  description = "Machine tier. Shared-core tiers (db-f1-micro, db-g1-small) have no SLA; do not use them in production."
  type        = string
  default     = "db-custom-2-7680"
}

variable "availability_type" {
  description = "REGIONAL (a standby in a second zone, automatic failover; about twice the cost) or ZONAL."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.availability_type)
    error_message = "availability_type must be REGIONAL or ZONAL."
  }
}

variable "disk_size_gb" {
  description = "Initial SSD size; it grows automatically up to disk_autoresize_limit_gb (it never shrinks)."
  type        = number
  default     = 20
}

variable "disk_autoresize_limit_gb" {
  description = "Ceiling for automatic disk growth (0 means no limit)."
  type        = number
  default     = 200
}

variable "private_network" {
  description = "VPC id the private IP lives on; pass the network module's private_network_id so the peering exists first."
  type        = string
}

variable "allocated_ip_range" {
  description = "Name of the Private Services Access range to allocate from (null lets Google choose among the peering's ranges)."
  type        = string
  default     = null
}

variable "database_name" {
  description = "Application database."
  type        = string
  default     = "genai"
}

variable "user_name" {
  description = "Application database user (password generated here)."
  type        = string
  default     = "genai"
}

variable "backup_start_time" {
  description = "Daily backup window start, HH:MM in UTC."
  type        = string
  default     = "02:00"
}

variable "retained_backups" {
  description = "How many daily backups to keep."
  type        = number
  default     = 14
}

variable "transaction_log_retention_days" {
  description = "Point-in-time recovery window in days (1-7 on ENTERPRISE, up to 35 on ENTERPRISE_PLUS)."
  type        = number
  default     = 7
}

variable "maintenance_window" {
  description = "Weekly maintenance window: day 1 = Monday ... 7 = Sunday, hour in UTC."
  type = object({
    day  = number
    hour = number
  })
  default = {
    day  = 7
    hour = 3
  }
}

variable "database_flags" {
  description = "PostgreSQL flags, name => value (e.g. max_connections). Avoid statement logging: it would log prompt text."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Guard the instance against deletion, in Terraform and in the API. Turn off deliberately, apply, then destroy."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels for the instance."
  type        = map(string)
  default     = {}
}
