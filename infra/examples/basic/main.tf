# A minimal deployment: two MSK clusters with IAM auth in one VPC, properties from a file.
#
#   make build                        # dist/{mirror,reconcile,checkpoint}.zip
#   cd infra/examples/basic
#   tofu init && tofu apply           # or terraform

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "source_msk_cluster_arn" {
  type = string
}

variable "target_msk_cluster_arn" {
  type = string
}

module "mirrorless" {
  source = "../.."

  name       = "mirrorless-a-to-b"
  properties = file("${path.module}/mm2.properties")
  flows      = "A->B"

  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  source_msk_cluster_arn = var.source_msk_cluster_arn
  target_msk_cluster_arn = var.target_msk_cluster_arn
  source_topics          = "orders*"
  remote_topics          = "A.orders*"
}

output "function_names" {
  value = module.mirrorless.function_names
}
