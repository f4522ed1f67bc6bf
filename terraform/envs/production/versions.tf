terraform {
  # 1.6+: optional() object attributes with defaults, terraform_data, current GCS backend.
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0" # any 6.x; `terraform init` records the exact build in .terraform.lock.hcl (commit it)
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
