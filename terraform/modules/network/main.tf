# A private VPC for the platform.
#
# - Cloud SQL and Memorystore live in Google-managed producer networks, reached through
#   Private Services Access (one reserved range + one peering shared by both).
# - Cloud Run reaches that range through Direct VPC egress from a dedicated subnet; no
#   Serverless VPC Access connector (no always-on connector VMs to pay for, no throughput cap).
# - Only private (RFC 1918) traffic enters the VPC; calls to LLM providers and Google APIs
#   leave Cloud Run directly, so no Cloud NAT is needed.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = "${var.name}-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

# Direct VPC egress gives every Cloud Run instance an address from this subnet, and
# Google recommends about twice as many addresses as the peak instance count across all
# services and jobs that share it: a /24 covers ~100 instances.
resource "google_compute_subnetwork" "run_egress" {
  project                  = var.project_id
  name                     = "${var.name}-run-egress"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.run_egress_cidr
  private_ip_google_access = true
}

# Private Services Access: one range that Cloud SQL and Memorystore both allocate from.
resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.this.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.this.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]

  # On destroy the producer side often still holds the peering for a while after the
  # instances are gone; abandoning it lets `terraform destroy` finish (it goes with the VPC).
  deletion_policy = "ABANDON"
}

# Egress least privilege for Cloud Run instances (matched by network tag): they may open
# connections into the private-services range on the database and Redis ports only, and
# nothing else that is private. Public traffic does not enter the VPC at all.
resource "google_compute_firewall" "run_to_private_services" {
  project            = var.project_id
  name               = "${var.name}-run-to-private-services"
  network            = google_compute_network.this.id
  direction          = "EGRESS"
  priority           = 1000
  target_tags        = [var.run_network_tag]
  destination_ranges = ["${google_compute_global_address.private_services.address}/${var.private_services_prefix_length}"]

  allow {
    protocol = "tcp"
    ports    = var.private_service_ports
  }
}

resource "google_compute_firewall" "run_deny_other_private" {
  project            = var.project_id
  name               = "${var.name}-run-deny-other-private"
  network            = google_compute_network.this.id
  direction          = "EGRESS"
  priority           = 65000
  target_tags        = [var.run_network_tag]
  destination_ranges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

  deny {
    protocol = "all"
  }
}
