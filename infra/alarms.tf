# Alarms. The metric contract (namespace mirrorless, dimension set [Flow]) is in
# docs/operations.md, section Alarms.

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
  alarm_description   = "The largest ReplicationLagRecords of any flow stayed above lag_alarm_records: the mirror is not keeping up (or not running). See docs/operations.md."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.lag_alarm_records
  evaluation_periods  = var.lag_alarm_minutes
  datapoints_to_alarm = var.lag_alarm_minutes
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "lag"
    expression  = "SELECT MAX(ReplicationLagRecords) FROM SCHEMA(mirrorless, Flow)"
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

  metric_query {
    id          = "fenced"
    expression  = "SELECT SUM(FencedUnits) FROM SCHEMA(mirrorless, Flow)"
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

  metric_query {
    id          = "stopped"
    expression  = "SELECT MAX(PartitionsStopped) FROM SCHEMA(mirrorless, Flow)"
    period      = 300
    return_data = true
  }
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
}
