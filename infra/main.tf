locals {
  vpc         = length(var.subnet_ids) > 0
  secrets     = length(var.scram_secret_arns) > 0
  secrets_key = local.secrets && var.secrets_kms_key_arn != ""
  source_iam  = var.source_msk_cluster_arn != ""
  target_iam  = var.target_msk_cluster_arn != ""

  region = data.aws_region.current.region

  # Tags for every resource that takes them; the module's own tag says which deployment it is.
  tags = merge({ "mirrorless:deployment" = var.name }, var.tags)

  functions = {
    mirror = {
      description = "mirrorless mirror - copies records exactly once"
      package     = var.mirror_package
      memory      = var.mirror_memory
      timeout     = var.mirror_timeout
      schedule    = var.mirror_schedule
      extra_env = {
        MIRROR_MAX_UNITS       = tostring(var.mirror_max_units)
        MIRROR_MAX_CONCURRENCY = tostring(var.mirror_max_concurrency)
        MIRROR_GROUPS          = tostring(var.mirror_groups)
        MIRROR_TAIL            = var.mirror_tail
        # The tick sizes fan-out to clear the backlog within one interval (rate(...) is read as
        # its interval; for cron(...) the time budget stands in).
        MIRROR_SCHEDULE_INTERVAL = var.mirror_schedule
      }
    }
    reconcile = {
      description = "mirrorless reconcile - creates remote topics, grows partitions, syncs configs"
      package     = var.reconcile_package
      memory      = var.reconcile_memory
      timeout     = var.reconcile_timeout
      schedule    = var.reconcile_schedule
      extra_env   = {}
    }
    checkpoint = {
      description = "mirrorless checkpoint - translates consumer-group offsets, writes heartbeats"
      package     = var.checkpoint_package
      memory      = var.checkpoint_memory
      timeout     = var.checkpoint_timeout
      schedule    = var.checkpoint_schedule
      extra_env   = {}
    }
  }
}

resource "aws_cloudwatch_log_group" "fn" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "fn" {
  for_each      = local.functions
  function_name = "${var.name}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.fn[each.key].arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  filename      = each.value.package
  # The variables' validation already refused a missing file; the guard keeps a raw
  # filebase64sha256 error from ever being the first thing a user reads.
  source_code_hash = fileexists(each.value.package) ? filebase64sha256(each.value.package) : null
  memory_size      = each.value.memory
  timeout          = each.value.timeout
  layers           = local.secrets ? [var.secrets_extension_layer_arn] : null
  tags             = local.tags

  environment {
    variables = merge({
      MIRROR_PROPERTIES      = var.properties
      MIRROR_PROPERTIES_FILE = "/var/task/${var.properties_file}"
      MIRROR_FLOWS           = var.flows
      MIRROR_LOG_LEVEL       = var.log_level
      MIRROR_TIME_BUDGET     = "${each.value.timeout}s"
      MIRROR_DEPLOYMENT      = var.name
    }, each.value.extra_env)
  }

  dynamic "vpc_config" {
    for_each = local.vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists(each.value.package)
      error_message = "${each.key}_package: no file at ${each.value.package}. Run `make build` in a clone of mirrorless (it writes dist/${each.key}.zip) and point ${each.key}_package at that zip."
    }
    precondition {
      condition     = !local.vpc || length(var.security_group_ids) > 0
      error_message = "security_group_ids is required when subnet_ids is set."
    }
    precondition {
      condition     = !local.secrets || var.secrets_extension_layer_arn != ""
      error_message = "secrets_extension_layer_arn is required when scram_secret_arns is set (the functions read secrets through the AWS Parameters and Secrets Lambda Extension)."
    }
  }

  depends_on = [aws_cloudwatch_log_group.fn]
}

# Ticks come every minute: a failed or throttled one is not worth retrying (the next tick does
# the same work) and must not queue up behind the next ones.
resource "aws_lambda_function_event_invoke_config" "fn" {
  for_each                     = local.functions
  function_name                = aws_lambda_function.fn[each.key].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter.arn
    }
  }
}

# Failed invocations (scheduler delivery failures and Lambda async failures) land here.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-failed"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_scheduler_schedule" "fn" {
  for_each            = local.functions
  name                = "${var.name}-${each.key}"
  description         = "mirrorless ${each.key} tick"
  schedule_expression = each.value.schedule
  state               = var.schedule_state

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.fn[each.key].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "mirrorless.scheduler", function = each.key })
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
    dead_letter_config {
      arn = aws_sqs_queue.dead_letter.arn
    }
  }
}
