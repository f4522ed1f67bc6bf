output "instance_name" {
  description = "Cloud SQL instance name."
  value       = google_sql_database_instance.this.name
}

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for the Cloud SQL Auth Proxy (operators' laptops via a bastion, etc.)."
  value       = google_sql_database_instance.this.connection_name
}

output "private_ip" {
  description = "The instance's private IP address."
  value       = google_sql_database_instance.this.private_ip_address
}

output "database_name" {
  description = "Application database."
  value       = google_sql_database.app.name
}

output "user_name" {
  description = "Application database user."
  value       = google_sql_user.app.name
}

output "password" {
  description = "Application user's password (also in state: keep the state bucket private)."
  value       = random_password.app.result
  sensitive   = true
}

output "server_ca_pem" {
  description = "PEM of the instance's server CA, for clients that verify the server (sslmode=verify-ca)."
  value       = google_sql_database_instance.this.server_ca_cert[0].cert
}
