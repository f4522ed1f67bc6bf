output "network_id" {
  description = "The VPC's id."
  value       = google_compute_network.this.id
}

output "network_name" {
  description = "The VPC's name (what Cloud Run's network_interfaces takes)."
  value       = google_compute_network.this.name
}

# Read through the peering connection on purpose: Cloud SQL and Memorystore fail to create
# on a network whose Private Services Access peering does not exist yet, and consuming this
# output makes them wait for it.
output "private_network_id" {
  description = "The VPC's id, available only once Private Services Access is connected."
  value       = google_service_networking_connection.private_services.network
}

output "private_services_range_name" {
  description = "Name of the reserved Private Services Access range."
  value       = google_compute_global_address.private_services.name
}

output "run_subnetwork_name" {
  description = "Subnet for Cloud Run Direct VPC egress."
  value       = google_compute_subnetwork.run_egress.name
}

output "run_network_tag" {
  description = "Network tag Cloud Run workloads must carry to pass the egress firewall."
  value       = var.run_network_tag
}
