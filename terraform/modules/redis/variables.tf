variable "project_id" {
  description = "GCP project of the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance (the same as Cloud Run's)."
  type        = string
}

variable "name" {
  description = "Instance id."
  type        = string
}

variable "tier" {
  description = "STANDARD_HA (replica in another zone, automatic failover) or BASIC (single node, no SLA)."
  type        = string
  default     = "STANDARD_HA"

  validation {
    condition     = contains(["STANDARD_HA", "BASIC"], var.tier)
    error_message = "tier must be STANDARD_HA or BASIC."
  }
}

variable "memory_size_gb" {
  description = "Capacity in GiB."
  type        = number
  default     = 1
}

variable "redis_version" {
  description = "Redis version."
  type        = string
  default     = "REDIS_7_2"
}

variable "authorized_network" {
  description = "VPC id; pass the network module's private_network_id so the peering exists first."
  type        = string
}

variable "reserved_ip_range" {
  description = "Name of the Private Services Access range to allocate from."
  type        = string
  default     = null
}

variable "redis_configs" {
  description = "Redis configuration overrides, e.g. { \"maxmemory-policy\" = \"volatile-lru\" }."
  type        = map(string)
  default     = {}
}

variable "rdb_snapshot_period" {
  description = "RDB snapshot period (ONE_HOUR, SIX_HOURS, TWELVE_HOURS, TWENTY_FOUR_HOURS), or null to turn persistence off."
  type        = string
  default     = "ONE_HOUR"
}

variable "maintenance_day" {
  description = "Weekly maintenance day (MONDAY ... SUNDAY)."
  type        = string
  default     = "SUNDAY"
}

variable "maintenance_hour" {
  description = "Weekly maintenance start hour, UTC."
  type        = number
  default     = 4
}

variable "labels" {
  description = "Labels for the instance."
  type        = map(string)
  default     = {}
}
