# One role per function, each allowed exactly what that function does.

# IAM names are global to the account: the region in them lets one name be deployed in several
# regions (Lambda, SQS, schedules and alarms are regional already).
resource "aws_iam_role" "fn" {
  for_each             = local.functions
  name                 = "${var.name}-${each.key}-${local.region}"
  permissions_boundary = var.permissions_boundary_arn == "" ? null : var.permissions_boundary_arn
  tags                 = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "base" {
  for_each = local.functions
  name     = "base"
  role     = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.fn[each.key].arn}:*"
      },
      {
        # Lambda's on-failure destination is sent with the function's own role.
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.dead_letter.arn
      },
    ]
  })
}

# Fan-out: the mirror's scheduled tick starts workers as asynchronous invocations of the mirror
# function itself, and of nothing else (":*" covers the version or alias the tick runs as).
resource "aws_iam_role_policy" "fanout" {
  name = "fanout"
  role = aws_iam_role.fn["mirror"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = [aws_lambda_function.fn["mirror"].arn, "${aws_lambda_function.fn["mirror"].arn}:*"]
    }]
  })
}

# Lambda in a VPC manages its network interfaces; AWS requires Resource "*" for these (the same
# actions as AWSLambdaVPCAccessExecutionRole, nothing else).
resource "aws_iam_role_policy" "vpc" {
  for_each = local.vpc ? local.functions : {}
  name     = "vpc"
  role     = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy" "secrets" {
  for_each = local.secrets ? local.functions : {}
  name     = "secrets"
  role     = aws_iam_role.fn[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Effect   = "Allow"
      Action   = "secretsmanager:GetSecretValue"
      Resource = var.scram_secret_arns
      }], local.secrets_key ? [{
      Effect    = "Allow"
      Action    = "kms:Decrypt"
      Resource  = var.secrets_kms_key_arn
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
    }] : [])
  })
}

data "aws_region" "current" {}

resource "aws_iam_role" "scheduler" {
  name                 = "${var.name}-scheduler-${local.region}"
  permissions_boundary = var.permissions_boundary_arn == "" ? null : var.permissions_boundary_arn
  tags                 = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

data "aws_caller_identity" "current" {}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [for f in aws_lambda_function.fn : f.arn]
      },
      {
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.dead_letter.arn
      },
    ]
  })
}
