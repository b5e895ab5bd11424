# tofu test for the module's own logic, with a mocked AWS provider: names, counts, the
# environment, policies and the input checks. scripts/lint-deploy.sh runs it (the provider's
# schema comes from localtest/suites/deploy/stubaws; see docs/deploy.md).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  # An empty file stands for a package: the module only hashes it.
  mirror_package     = "tests/package.zip"
  reconcile_package  = "tests/package.zip"
  checkpoint_package = "tests/package.zip"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_iam_role.fn["mirror"].name == "mirrorless-mirror-eu-west-1" && aws_iam_role.scheduler.name == "mirrorless-scheduler-eu-west-1"
    error_message = "IAM role names must carry the region: ${aws_iam_role.fn["mirror"].name}"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.fn : f.environment[0].variables["MIRROR_DEPLOYMENT"] == "mirrorless"])
    error_message = "every function must get MIRROR_DEPLOYMENT = name"
  }
  assert {
    condition     = aws_cloudwatch_dashboard.main.dashboard_name == "mirrorless-eu-west-1" && length(jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets) == 8
    error_message = "the dashboard must be named <name>-<region> and hold the eight widgets"
  }
  assert {
    condition     = !strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "$${")
    error_message = "the dashboard body has a placeholder left"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.mirror_not_reporting) == 1 && aws_cloudwatch_metric_alarm.replication_lag.treat_missing_data == "notBreaching" && aws_cloudwatch_metric_alarm.replication_lag_age.treat_missing_data == "notBreaching"
    error_message = "with the schedules enabled: a not-reporting alarm, and a lag alarm that does not treat silence as lag"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.mirror_not_reporting[0].dimensions == tomap({ Deployment = "mirrorless", Function = "mirror" })
    error_message = "the not-reporting alarm must watch this deployment's mirror"
  }
  assert {
    condition     = strcontains(one(aws_cloudwatch_metric_alarm.replication_lag.metric_query).expression, "WHERE Deployment = 'mirrorless'")
    error_message = "the lag alarm must select this deployment's metrics"
  }
  assert {
    condition     = aws_iam_role.fn["mirror"].permissions_boundary == null && aws_lambda_function.fn["mirror"].tags["mirrorless:deployment"] == "mirrorless"
    error_message = "no boundary by default; the deployment tag on every taggable resource"
  }
  assert {
    condition     = length(aws_iam_role_policy.msk_target) == 0 && length(aws_iam_role_policy.msk_source) == 0
    error_message = "no MSK IAM policy without a cluster ARN"
  }
  assert {
    condition     = aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_GROUPS"] == "0" && aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_TAIL"] == "false" && aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_MAX_UNITS"] == "4096"
    error_message = "the mirror's defaults must be core/config's: MIRROR_GROUPS 0 (set by each tick), MIRROR_TAIL false, MIRROR_MAX_UNITS 4096"
  }
}

run "schedule_disabled" {
  command = plan
  variables {
    schedule_state = "DISABLED"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.mirror_not_reporting) == 0 && alltrue([for s in aws_scheduler_schedule.fn : s.state == "DISABLED"])
    error_message = "a disabled deployment must have no not-reporting alarm"
  }
}

run "boundary_and_tags" {
  command = plan
  variables {
    name                     = "mm-b"
    permissions_boundary_arn = "arn:aws:iam::123456789012:policy/boundary"
    tags                     = { team = "kafka" }
  }
  assert {
    condition     = alltrue([for r in concat(values(aws_iam_role.fn), [aws_iam_role.scheduler]) : r.permissions_boundary == "arn:aws:iam::123456789012:policy/boundary"])
    error_message = "every role must carry the boundary"
  }
  assert {
    condition     = aws_sqs_queue.dead_letter.tags == tomap({ "mirrorless:deployment" = "mm-b", team = "kafka" })
    error_message = "tags must reach the resources"
  }
}

run "msk_target_defaults_stay_in_the_flow" {
  command = plan
  variables {
    flows                  = "A->B"
    target_msk_cluster_arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/tgt/uuid-1"
  }
  assert {
    condition = length(setsubtract([
      "arn:aws:kafka:eu-west-1:123456789012:topic/tgt/uuid-1/A.*",
      "arn:aws:kafka:eu-west-1:123456789012:group/tgt/uuid-1/mirrorless.A->B.*",
      "arn:aws:kafka:eu-west-1:123456789012:transactional-id/tgt/uuid-1/mirrorless.A->B.*",
    ], flatten([for s in jsondecode(aws_iam_role_policy.msk_target["mirror"].policy).Statement : s.Resource]))) == 0
    error_message = "the mirror's target grants must be the flow's remote topics, groups and transactional ids"
  }
  assert {
    condition = alltrue(flatten([for p in aws_iam_role_policy.msk_target : [
      for r in flatten([for s in jsondecode(p.policy).Statement : s.Resource]) : !endswith(r, "uuid-1/*") && !endswith(r, "/mirrorless.*")
    ]]))
    error_message = "no target grant on every topic, every group or every flow's groups"
  }
}

run "missing_package_says_what_to_run" {
  command = plan
  variables {
    mirror_package = "tests/no-such.zip"
  }
  expect_failures = [var.mirror_package]
}

run "msk_target_needs_one_flow" {
  command = plan
  variables {
    flows                  = "A->B,B->A"
    target_msk_cluster_arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/tgt/uuid-1"
  }
  expect_failures = [aws_iam_role_policy.msk_target]
}

run "bad_name" {
  command = plan
  variables {
    name = "has spaces"
  }
  expect_failures = [var.name]
}

run "mirror_settings_reach_the_mirror_only" {
  command = plan
  variables {
    mirror_groups    = 4
    mirror_tail      = true # a bool is taken as "true"
    mirror_max_units = 512
  }
  assert {
    condition = (aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_GROUPS"] == "4"
      && aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_TAIL"] == "true"
    && aws_lambda_function.fn["mirror"].environment[0].variables["MIRROR_MAX_UNITS"] == "512")
    error_message = "mirror_groups, mirror_tail and mirror_max_units must reach the mirror's MIRROR_GROUPS, MIRROR_TAIL and MIRROR_MAX_UNITS"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.fn["checkpoint"].environment[0].variables), "MIRROR_TAIL") && !contains(keys(aws_lambda_function.fn["reconcile"].environment[0].variables), "MIRROR_GROUPS")
    error_message = "only the mirror reads MIRROR_GROUPS and MIRROR_TAIL"
  }
}

run "bad_mirror_tail" {
  command = plan
  variables {
    mirror_tail = "yes"
  }
  expect_failures = [var.mirror_tail]
}

run "bad_mirror_groups" {
  command = plan
  variables {
    mirror_groups = 1001
  }
  expect_failures = [var.mirror_groups]
}

run "fractional_mirror_groups" {
  command = plan
  variables {
    mirror_groups = 2.5
  }
  expect_failures = [var.mirror_groups]
}
