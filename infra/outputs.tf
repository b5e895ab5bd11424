output "function_names" {
  description = "The three Lambda functions, by role."
  value       = { for k, f in aws_lambda_function.fn : k => f.function_name }
}

output "dead_letter_queue_url" {
  value = aws_sqs_queue.dead_letter.url
}
