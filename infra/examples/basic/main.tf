# A minimal deployment: two MSK clusters with IAM auth in one VPC, properties from a file.
#
#   make build                        # dist/{mirror,reconcile,checkpoint}.zip
#   cd infra/examples/basic
#   tofu init && tofu apply           # or terraform

terraform {
  required_version = ">= 1.6.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region of the clusters and of the deployment."
  type        = string
  default     = "eu-west-1"
}

variable "subnet_ids" {
  description = "Private subnets that reach both clusters."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups allowed to the brokers' ports."
  type        = list(string)
}

variable "source_msk_cluster_arn" {
  description = "The source MSK cluster (AWS_MSK_IAM)."
  type        = string
}

variable "target_msk_cluster_arn" {
  description = "The target MSK cluster (AWS_MSK_IAM)."
  type        = string
}

module "mirrorless" {
  source = "../.."

  name = "mirrorless-a-to-b"
  # From a remote source (source = "github.com/mirrorless/mirrorless//infra?ref=<tag>") these
  # point at the zips a `make build` wrote in a clone of the repository.
  mirror_package     = "${path.module}/../../../dist/mirror.zip"
  reconcile_package  = "${path.module}/../../../dist/reconcile.zip"
  checkpoint_package = "${path.module}/../../../dist/checkpoint.zip"

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
  description = "The three Lambda functions, by role."
  value       = module.mirrorless.function_names
}
