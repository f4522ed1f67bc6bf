variable "project_id" {
  description = "GCP project that owns the network."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run egress subnet (the same region as the services)."
  type        = string
}

variable "name" {
  description = "Prefix for every resource name in this module."
  type        = string
}

variable "run_egress_cidr" {
  description = "Subnet that Cloud Run Direct VPC egress takes instance addresses from."
  type        = string
  default     = "10.8.0.0/24"
}

variable "private_services_prefix_length" {
  description = "Size of the Private Services Access range shared by Cloud SQL and Memorystore (/20 leaves room for replicas and more instances)."
  type        = number
  default     = 20
}

variable "run_network_tag" {
  description = "Network tag that Cloud Run workloads carry; the egress firewall rules match it."
  type        = string
  default     = "cloud-run"
}

variable "private_service_ports" {
  description = "TCP ports Cloud Run may open into the private-services range: PostgreSQL, and Memorystore's TLS port."
  type        = list(string)
  default     = ["5432", "6378"]
}
