variable "project_id" {
  description = "GCP project of the service."
  type        = string
}

variable "region" {
  description = "Region of the service."
  type        = string
}

variable "name" {
  description = "Service name (also the first label of its run.app URL)."
  type        = string
}

variable "image" {
  description = "Full image reference, REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG (or @sha256:...)."
  type        = string
}

variable "command" {
  description = "Entrypoint override; null keeps the image's."
  type        = list(string)
  default     = null
}

variable "args" {
  description = "Arguments override; null keeps the image's CMD."
  type        = list(string)
  default     = null
}

variable "service_account_email" {
  description = "Identity the service runs as."
  type        = string
}

variable "env" {
  description = "Plain (non-secret) environment variables."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: NAME => { secret = secret id, version = number or \"latest\" }."
  type = map(object({
    secret  = string
    version = optional(string, "latest")
  }))
  default = {}
}

variable "secret_files" {
  description = "Secrets mounted as files: volume name => { secret, mount_path (a directory), file_name, version }."
  type = map(object({
    secret     = string
    mount_path = string
    file_name  = string
    version    = optional(string, "latest")
  }))
  default = {}
}

variable "container_port" {
  description = "Port the process listens on; Cloud Run passes it in $PORT."
  type        = number
  default     = 8080
}

variable "cpu" {
  description = "vCPUs per instance (\"1\", \"2\", \"4\", ...)."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance (\"512Mi\", \"1Gi\", ...)."
  type        = string
  default     = "1Gi"
}

variable "cpu_idle" {
  description = "Throttle CPU outside requests (request-based billing). Must be false for background workers."
  type        = bool
  default     = true
}

variable "min_instances" {
  description = "Instances kept warm (0 scales to zero; 1+ avoids cold starts and is billed while idle)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances; keep max_instances x concurrency within what Postgres and Redis accept."
  type        = number
  default     = 10
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
  default     = 80
}

variable "request_timeout" {
  description = "Longest a request (or a WebSocket / SSE stream) may last, e.g. \"300s\" (at most 3600s)."
  type        = string
  default     = "300s"
}

variable "ingress" {
  description = "INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_INTERNAL_ONLY"
}

variable "allow_unauthenticated" {
  description = "Grant roles/run.invoker to allUsers (a public website or API that does its own authentication)."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "label => IAM member allowed to invoke the service (static labels)."
  type        = map(string)
  default     = {}
}

variable "network" {
  description = "VPC name for Direct VPC egress."
  type        = string
}

variable "subnetwork" {
  description = "Subnet name for Direct VPC egress."
  type        = string
}

variable "network_tags" {
  description = "Network tags the instances carry (the VPC egress firewall rules match on them)."
  type        = list(string)
  default     = []
}

variable "startup_probe_path" {
  description = "HTTP path of the startup probe; null leaves Cloud Run's default TCP probe on the port."
  type        = string
  default     = null
}

variable "liveness_probe_path" {
  description = "HTTP path of the liveness probe; null means no liveness probe."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to delete the service from Terraform."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels for the service and its revisions."
  type        = map(string)
  default     = {}
}
