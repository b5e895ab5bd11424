# AWS MSK IAM: kafka-cluster actions on the named clusters and on the topics, groups and
# transactional ids each function uses. A cluster ARN is arn:...:cluster/<name>/<uuid>; its
# topics are arn:...:topic/<name>/<uuid>/<topic> (likewise group/ and transactional-id/).

locals {
  src_cluster = var.source_msk_cluster_arn
  src_topic   = "${replace(var.source_msk_cluster_arn, ":cluster/", ":topic/")}/"
  src_group   = "${replace(var.source_msk_cluster_arn, ":cluster/", ":group/")}/"

  tgt_cluster = var.target_msk_cluster_arn
  tgt_topic   = "${replace(var.target_msk_cluster_arn, ":cluster/", ":topic/")}/"
  tgt_group   = "${replace(var.target_msk_cluster_arn, ":cluster/", ":group/")}/"
  tgt_txn     = "${replace(var.target_msk_cluster_arn, ":cluster/", ":transactional-id/")}/"

  # Derived from the one flow (a precondition below requires it with a target cluster): its
  # remote topics unless remote_topics says otherwise, and its name for groups and ids.
  remote_topics = var.remote_topics != "" ? var.remote_topics : "${split("->", var.flows)[0]}.*"

  msk_source = {
    mirror = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource = local.src_cluster },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], Resource = "${local.src_topic}${var.source_topics}" },
    ]
    reconcile = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource = local.src_cluster },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration"], Resource = "${local.src_topic}${var.source_topics}" },
    ]
    # checkpoint also writes the reverse heartbeat into the source's heartbeats topic, as MM2 does.
    checkpoint = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"], Resource = local.src_cluster },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:WriteData"], Resource = "${local.src_topic}heartbeats" },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic"], Resource = "${local.src_topic}${var.source_topics}" },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeGroup"], Resource = "${local.src_group}${var.source_groups}" },
    ]
  }

  msk_target = {
    mirror = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"], Resource = local.tgt_cluster },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"], Resource = ["${local.tgt_topic}${local.remote_topics}", "${local.tgt_topic}mm2-offset-syncs.*.internal"] },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], Resource = "${local.tgt_group}mirrorless.${var.flows}.*" },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"], Resource = "${local.tgt_txn}mirrorless.${var.flows}.*" },
    ]
    reconcile = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource = local.tgt_cluster },
      {
        Effect = "Allow"
        Action = [
          "kafka-cluster:DescribeTopic",
          "kafka-cluster:CreateTopic",
          "kafka-cluster:AlterTopic",
          "kafka-cluster:DescribeTopicDynamicConfiguration",
          "kafka-cluster:AlterTopicDynamicConfiguration",
        ]
        Resource = [
          "${local.tgt_topic}${local.remote_topics}",
          "${local.tgt_topic}mm2-offset-syncs.*.internal",
          "${local.tgt_topic}*.checkpoints.internal",
          "${local.tgt_topic}mm2-mirrorless-checkpoint-state.*.internal",
          "${local.tgt_topic}heartbeats",
        ]
      },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeGroup"], Resource = "${local.tgt_group}mirrorless.${var.flows}.*" },
    ]
    checkpoint = [
      { Effect = "Allow", Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"], Resource = local.tgt_cluster },
      # ReadData on the remote topics: Kafka authorises a group offset commit (the group offset
      # sync) as READ on each topic in it.
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], Resource = ["${local.tgt_topic}${local.remote_topics}", "${local.tgt_topic}mm2-offset-syncs.*.internal"] },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"], Resource = ["${local.tgt_topic}*.checkpoints.internal", "${local.tgt_topic}mm2-mirrorless-checkpoint-state.*.internal", "${local.tgt_topic}heartbeats"] },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], Resource = "${local.tgt_group}mirrorless.${var.flows}.*" },
      { Effect = "Allow", Action = ["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"], Resource = "${local.tgt_txn}mirrorless.${var.flows}.*" },
    ]
  }

  # The group offset sync (sync.group.offsets.enabled) commits to these groups.
  msk_target_synced_groups = var.synced_groups == "" ? [] : [
    { Effect = "Allow", Action = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], Resource = "${local.tgt_group}${var.synced_groups}" },
  ]
}

resource "aws_iam_role_policy" "msk_source" {
  for_each = local.source_iam ? local.functions : {}
  name     = "msk-source"
  role     = aws_iam_role.fn[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = local.msk_source[each.key] })
}

resource "aws_iam_role_policy" "msk_target" {
  for_each = local.target_iam ? local.functions : {}
  name     = "msk-target"
  role     = aws_iam_role.fn[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = concat(local.msk_target[each.key], each.key == "checkpoint" ? local.msk_target_synced_groups : []) })

  lifecycle {
    precondition {
      condition     = var.flows != "" && !strcontains(var.flows, ",")
      error_message = "flows must name the deployment's one flow (e.g. A->B) when target_msk_cluster_arn is set: the MSK IAM grants are derived from it (one deployment per direction, docs/deploy.md)."
    }
  }
}
