output "host" {
  description = "Private IP of the primary endpoint."
  value       = google_redis_instance.this.host
}

output "port" {
  description = "Port of the primary endpoint (6378 with TLS)."
  value       = google_redis_instance.this.port
}

output "auth_string" {
  description = "AUTH password (also in state: keep the state bucket private)."
  value       = google_redis_instance.this.auth_string
  sensitive   = true
}

# All CAs, not just the first: during a CA rotation Memorystore lists the old and the new
# one, and clients that trust both keep connecting across the switch.
output "server_ca_pem" {
  description = "PEM bundle of the instance's server CAs, for clients' ssl_ca_certs."
  value       = join("\n", google_redis_instance.this.server_ca_certs[*].cert)
}
