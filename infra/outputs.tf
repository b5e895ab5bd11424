output "function_names" {
  description = "The three Lambda functions, by role."
  value       = { for k, f in aws_lambda_function.fn : k => f.function_name }
}

output "dead_letter_queue_url" {
  description = "The queue of failed invocations and undeliverable ticks (docs/operations.md)."
  value       = aws_sqs_queue.dead_letter.url
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of this deployment."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}
