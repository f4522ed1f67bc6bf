# Memorystore for Redis: private (Private Services Access), AUTH on, TLS on.
#
# With transit encryption the instance serves TLS on port 6378 with a certificate from a CA
# unique to this instance; clients must trust that CA (exported below) to connect.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

resource "google_redis_instance" "this" {
  project        = var.project_id
  region         = var.region
  name           = var.name
  display_name   = var.name
  tier           = var.tier
  memory_size_gb = var.memory_size_gb
  redis_version  = var.redis_version
  labels         = var.labels

  connect_mode       = "PRIVATE_SERVICE_ACCESS"
  authorized_network = var.authorized_network
  reserved_ip_range  = var.reserved_ip_range

  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  # Memorystore's default maxmemory-policy is volatile-lru: only keys with a TTL are
  # evicted under memory pressure. Rate-limit windows and cache entries carry TTLs; Celery
  # queues do not, so queued tasks are never evicted. Keep it that way unless you know why.
  redis_configs = var.redis_configs

  # Hourly RDB snapshots: a restart or failover does not lose the Celery queues. Budget and
  # rate-limit counters are mirrors of the Postgres ledger and would be rebuilt anyway.
  dynamic "persistence_config" {
    for_each = var.rdb_snapshot_period == null ? [] : [var.rdb_snapshot_period]
    content {
      persistence_mode    = "RDB"
      rdb_snapshot_period = persistence_config.value
    }
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = var.maintenance_day
      start_time {
        hours   = var.maintenance_hour
        minutes = 0
        seconds = 0
        nanos   = 0
      }
    }
  }
}
