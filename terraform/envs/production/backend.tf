# Remote state in a GCS bucket: shared by everyone who applies, locked during apply, and
# versioned so a bad apply can be rolled back.
#
# The state holds secrets (the database password, the Redis AUTH string, the Django secret
# key): the bucket must be private, with uniform bucket-level access and object versioning,
# and readable only by the people and CI that run Terraform. Create it once, outside this
# configuration (see README.md, "Bootstrap"):
#
#   gcloud storage buckets create gs://MY-PROJECT-tfstate --location=REGION \
#     --uniform-bucket-level-access --public-access-prevention
#   gcloud storage buckets update gs://MY-PROJECT-tfstate --versioning
#
# The bucket is left out below on purpose (a partial backend configuration), so no
# project-specific name is committed; pass it at init time:
#
#   terraform init -backend-config="bucket=MY-PROJECT-tfstate"

terraform {
  backend "gcs" {
    # bucket = "MY-PROJECT-tfstate"
    prefix = "genai-platform/production"
  }
}
