# mirrorless as a Terraform/OpenTofu module: the same resources as template.yaml (SAM).
# Every variable here matches a template.yaml parameter (snake_case of its name), except the
# ones listed in localtest/suites/deploy as Terraform-only (name and the package paths).

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}
