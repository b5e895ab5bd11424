# mirrorless as a Terraform/OpenTofu module: the same resources as template.yaml (SAM).
# Every variable here matches a template.yaml parameter (snake_case of its name), except the
# ones listed in localtest/suites/deploy as Terraform-only (name and the package paths).

# Provider 6.x: data.aws_region's `region` attribute (6.0 deprecated `name`). The upper bounds
# keep a future major version, which may drop or rename what this module uses, from being
# picked up unseen.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
