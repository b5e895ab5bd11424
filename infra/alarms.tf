# Alarms and the dashboard. The metric contract (namespace mirrorless, dimension sets
# [Deployment, Flow], [Deployment, Flow, Topic] and [Deployment, Function]) is in
# docs/operations.md, section Alarms. Every query selects this deployment's metrics by the
# Deployment dimension (MIRROR_DEPLOYMENT = var.name), so two deployments in one account and
# region never feed each other's alarms.

locals {
  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]

  error_alarms = {
    mirror     = { period = 60, evaluation_periods = 5, datapoints = 3, description = "mirror invocations failed in 3 of the last 5 minutes." }
    reconcile  = { period = 300, evaluation_periods = 2, datapoints = 2, description = "reconcile invocations failed twice in a row." }
    checkpoint = { period = 60, evaluation_periods = 5, datapoints = 3, description = "checkpoint invocations failed in 3 of the last 5 minutes." }
  }
}

resource "aws_cloudwatch_metric_alarm" "replication_lag" {
  alarm_name          = "${var.name}-replication-lag"
  alarm_description   = "The largest ReplicationLagRecords of any flow stayed above lag_alarm_records: the mirror is not keeping up. No data is not a breach (a disabled schedule reports nothing); the mirror-not-reporting alarm covers silence. See docs/operations.md."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lag_alarm_records
  evaluation_periods  = var.lag_alarm_minutes
  datapoints_to_alarm = var.lag_alarm_minutes
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "lag"
    expression  = "SELECT MAX(ReplicationLagRecords) FROM SCHEMA(mirrorless, Deployment, Flow) WHERE Deployment = '${var.name}'"
    period      = 60
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "replication_lag_age" {
  alarm_name          = "${var.name}-replication-lag-age"
  alarm_description   = "The oldest record not yet copied of some flow (ReplicationLagSeconds) stayed older than lag_alarm_seconds: the mirror is stalled or too slow. No data is not a breach. See docs/operations.md."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lag_alarm_seconds
  evaluation_periods  = var.lag_alarm_minutes
  datapoints_to_alarm = var.lag_alarm_minutes
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "age"
    expression  = "SELECT MAX(ReplicationLagSeconds) FROM SCHEMA(mirrorless, Deployment, Flow) WHERE Deployment = '${var.name}'"
    period      = 60
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "fencing_storm" {
  alarm_name          = "${var.name}-fencing-storm"
  alarm_description   = "More than fencing_alarm_count units were fenced in 5 minutes: invocations keep taking partitions from each other. See docs/operations.md."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.fencing_alarm_count
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "fenced"
    expression  = "SELECT SUM(FencedUnits) FROM SCHEMA(mirrorless, Deployment, Flow) WHERE Deployment = '${var.name}'"
    period      = 300
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "partitions_stopped" {
  alarm_name          = "${var.name}-partitions-stopped"
  alarm_description   = "A mirror run refused to copy a partition rather than guess (source data deleted before it was copied, source topic recreated, remote written by something else); it stays stopped until an operator acts. See docs/operations.md."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "stopped"
    expression  = "SELECT MAX(PartitionsStopped) FROM SCHEMA(mirrorless, Deployment, Flow) WHERE Deployment = '${var.name}'"
    period      = 300
    return_data = true
  }
}

# Only while the schedules run: a deployment with schedule_state = DISABLED (a cut-over) is
# silent on purpose.
resource "aws_cloudwatch_metric_alarm" "mirror_not_reporting" {
  count               = var.schedule_state == "ENABLED" ? 1 : 0
  alarm_name          = "${var.name}-mirror-not-reporting"
  alarm_description   = "The mirror reported no invocation (InvocationDurationMs of Function=mirror for this deployment) for not_reporting_alarm_minutes while its schedule is ENABLED: the schedule, the function or its metrics are not working. See docs/operations.md."
  namespace           = "mirrorless"
  metric_name         = "InvocationDurationMs"
  dimensions          = { Deployment = var.name, Function = "mirror" }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = var.not_reporting_alarm_minutes
  datapoints_to_alarm = var.not_reporting_alarm_minutes
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = local.error_alarms
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Invocations could not be delivered or failed asynchronously; read the queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The same widgets as template.yaml's Dashboard (localtest/deploy compares them). Dashboards are
# global to the account, so the name carries the region.
resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "${var.name}-${local.region}"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", { deployment = var.name, region = local.region })
}
