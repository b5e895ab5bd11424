# --- Terraform-only: what SAM gets from the stack name and CodeUri -----------------------------

variable "name" {
  description = "Prefix of every resource name and the deployment's name in its metrics (the Deployment dimension, MIRROR_DEPLOYMENT; the stack name in template.yaml). Letters, digits and hyphens, at most 32 characters (IAM role names carry the region too)."
  type        = string
  default     = "mirrorless"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.name))
    error_message = "name must start with a letter and hold at most 32 letters, digits and hyphens (as a CloudFormation stack name does), so every derived name fits its limit."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them (template.yaml: give them to the stack, `sam deploy --tags`). The module adds mirrorless:deployment = name."
  type        = map(string)
  default     = {}
}

variable "mirror_package" {
  description = "Path of the mirror package, the zip `make build` writes as dist/mirror.zip in a clone of mirrorless (with mm2.properties bundled if it was there). Required: this module builds nothing itself, e.g. \"$${path.root}/dist/mirror.zip\"."
  type        = string

  validation {
    condition     = fileexists(var.mirror_package)
    error_message = "mirror_package: no file at the path given. Run `make build` in a clone of mirrorless (it writes dist/mirror.zip) and set mirror_package to that zip's path."
  }
}

variable "reconcile_package" {
  description = "Path of the reconcile package, the zip `make build` writes as dist/reconcile.zip in a clone of mirrorless (with mm2.properties bundled if it was there). Required: this module builds nothing itself, e.g. \"$${path.root}/dist/reconcile.zip\"."
  type        = string

  validation {
    condition     = fileexists(var.reconcile_package)
    error_message = "reconcile_package: no file at the path given. Run `make build` in a clone of mirrorless (it writes dist/reconcile.zip) and set reconcile_package to that zip's path."
  }
}

variable "checkpoint_package" {
  description = "Path of the checkpoint package, the zip `make build` writes as dist/checkpoint.zip in a clone of mirrorless (with mm2.properties bundled if it was there). Required: this module builds nothing itself, e.g. \"$${path.root}/dist/checkpoint.zip\"."
  type        = string

  validation {
    condition     = fileexists(var.checkpoint_package)
    error_message = "checkpoint_package: no file at the path given. Run `make build` in a clone of mirrorless (it writes dist/checkpoint.zip) and set checkpoint_package to that zip's path."
  }
}

# --- configuration ------------------------------------------------------------------------------

variable "properties" {
  description = "The MM2 properties text (MIRROR_PROPERTIES), e.g. file(\"mm2.properties\"). Wins over properties_file. No passwords: write $${secretsmanager:<secret-id>:<json-key>} and list the secret in scram_secret_arns."
  type        = string
  default     = ""
}

variable "properties_file" {
  description = "Path of the properties file inside each package, relative to /var/task. Used when properties is empty."
  type        = string
  default     = "mm2.properties"
}

variable "flows" {
  description = "Only these flows, comma-separated (MIRROR_FLOWS, e.g. A->B). Empty means every enabled flow."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "Level of the functions' JSON log lines (MIRROR_LOG_LEVEL); debug also logs the Kafka client."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warn, error."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps each function's log group (one of the periods it accepts)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the retention periods CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# --- schedules ----------------------------------------------------------------------------------

variable "mirror_schedule" {
  description = "EventBridge Scheduler expression for mirror."
  type        = string
  default     = "rate(1 minute)"
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression for reconcile."
  type        = string
  default     = "rate(5 minutes)"
}

variable "checkpoint_schedule" {
  description = "EventBridge Scheduler expression for checkpoint."
  type        = string
  default     = "rate(1 minute)"
}

variable "schedule_state" {
  description = "DISABLED deploys everything but starts no invocation (for a cut-over)."
  type        = string
  default     = "ENABLED"
  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.schedule_state)
    error_message = "schedule_state must be ENABLED or DISABLED."
  }
}

# --- sizes --------------------------------------------------------------------------------------

variable "mirror_memory" {
  description = "MB for mirror; Lambda gives CPU and network in proportion to memory."
  type        = number
  default     = 1024

  validation {
    condition     = var.mirror_memory >= 128 && var.mirror_memory <= 10240
    error_message = "mirror_memory must be between 128 and 10240."
  }
}

variable "mirror_timeout" {
  description = "Seconds; also the invocation's time budget (MIRROR_TIME_BUDGET)."
  type        = number
  default     = 60

  validation {
    condition     = var.mirror_timeout >= 10 && var.mirror_timeout <= 900
    error_message = "mirror_timeout must be between 10 and 900."
  }
}

variable "mirror_max_units" {
  description = "Partitions one mirror invocation works at once at most (MIRROR_MAX_UNITS): those of the work group it holds, all written by one transactional producer. See docs/operations.md."
  type        = number
  default     = 4096

  validation {
    condition     = var.mirror_max_units >= 1
    error_message = "mirror_max_units must be at least 1."
  }
}

variable "mirror_max_concurrency" {
  description = "Mirror invocations one tick runs at once at most, itself included (MIRROR_MAX_CONCURRENCY). The scheduled invocation sizes the backlog and starts the others as asynchronous invocations of the function; 1 turns fan-out off. See docs/operations.md."
  type        = number
  default     = 10

  validation {
    condition     = var.mirror_max_concurrency >= 1 && var.mirror_max_concurrency <= 1000
    error_message = "mirror_max_concurrency must be between 1 and 1000."
  }
}

variable "mirror_groups" {
  description = "Work groups per flow (MIRROR_GROUPS): a flow's partitions are split into this many groups, each copied by one transactional producer at a time. 0 lets every tick set it to the invocations it runs; a change fences every group's transactional id. See docs/operations.md."
  type        = number
  default     = 0

  validation {
    condition     = var.mirror_groups >= 0 && var.mirror_groups <= 1000 && floor(var.mirror_groups) == var.mirror_groups
    error_message = "mirror_groups must be a whole number between 0 (set by each tick) and 1000."
  }
}

variable "mirror_tail" {
  description = "\"true\": a mirror invocation that has caught up keeps copying new records until its time budget ends (MIRROR_TAIL): about 1 s of latency while it runs, billed for the whole mirror_timeout every tick even when idle. See docs/operations.md."
  type        = string
  default     = "false"

  validation {
    condition     = contains(["true", "false"], var.mirror_tail)
    error_message = "mirror_tail must be true or false."
  }
}

variable "reconcile_memory" {
  description = "MB for reconcile (it sends few requests; 256 suffices for thousands of topics)."
  type        = number
  default     = 256

  validation {
    condition     = var.reconcile_memory >= 128 && var.reconcile_memory <= 10240
    error_message = "reconcile_memory must be between 128 and 10240."
  }
}

variable "reconcile_timeout" {
  description = "Seconds; also reconcile's time budget (changes left over wait for the next run)."
  type        = number
  default     = 120

  validation {
    condition     = var.reconcile_timeout >= 10 && var.reconcile_timeout <= 900
    error_message = "reconcile_timeout must be between 10 and 900."
  }
}

variable "checkpoint_memory" {
  description = "MB for checkpoint (it sends few requests; 256 suffices for thousands of topics)."
  type        = number
  default     = 256

  validation {
    condition     = var.checkpoint_memory >= 128 && var.checkpoint_memory <= 10240
    error_message = "checkpoint_memory must be between 128 and 10240."
  }
}

variable "checkpoint_timeout" {
  description = "Seconds; also checkpoint's time budget."
  type        = number
  default     = 60

  validation {
    condition     = var.checkpoint_timeout >= 10 && var.checkpoint_timeout <= 900
    error_message = "checkpoint_timeout must be between 10 and 900."
  }
}

# --- network ------------------------------------------------------------------------------------

variable "subnet_ids" {
  description = "Private subnets that reach both clusters (MSK). Empty runs outside a VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the functions' network interfaces (required with subnet_ids)."
  type        = list(string)
  default     = []
}

# --- auth ---------------------------------------------------------------------------------------

variable "scram_secret_arns" {
  description = "Secrets Manager secrets the properties refer to as $${secretsmanager:<secret-id>:<json-key>}, read through the AWS Parameters and Secrets Lambda Extension."
  type        = list(string)
  default     = []
}

variable "secrets_kms_key_arn" {
  description = "The customer-managed KMS key of those secrets, if any (MSK SCRAM secrets need one)."
  type        = string
  default     = ""
}

variable "secrets_extension_layer_arn" {
  description = "ARN of the AWS-Parameters-and-Secrets-Lambda-Extension-Arm64 layer in your region (required with scram_secret_arns)."
  type        = string
  default     = ""
}

variable "source_msk_cluster_arn" {
  description = "The source MSK cluster's ARN when the source uses AWS_MSK_IAM; grants read access only."
  type        = string
  default     = ""
}

variable "target_msk_cluster_arn" {
  description = "The target MSK cluster's ARN when the target uses AWS_MSK_IAM."
  type        = string
  default     = ""
}

variable "source_topics" {
  description = "IAM name pattern of the source topics mirror reads (e.g. orders*). Read-only; the default is every topic, as MM2's default topics filter (.*) selects. MSK IAM only."
  type        = string
  default     = "*"
}

variable "remote_topics" {
  description = "IAM name pattern of the remote topics mirror writes on the target. Empty: those of the flow's source alias, <alias>.* (A.* for flows = A->B); set it for IdentityReplicationPolicy or another separator. MSK IAM only."
  type        = string
  default     = ""
}

variable "source_groups" {
  description = "IAM name pattern of the source consumer groups checkpoint reads to translate. Read-only; the default is every group, as MM2's default groups filter (.*) selects. MSK IAM only."
  type        = string
  default     = "*"
}

variable "synced_groups" {
  description = "IAM name pattern of the target consumer groups checkpoint may commit offsets to (sync.group.offsets.enabled, off by default). Empty grants none. MSK IAM only."
  type        = string
  default     = ""
}

# --- alarms -------------------------------------------------------------------------------------

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms. Empty creates the alarms without actions."
  type        = string
  default     = ""
}

variable "lag_alarm_records" {
  description = "Alarm when any flow's ReplicationLagRecords stays above this for lag_alarm_minutes."
  type        = number
  default     = 100000

  validation {
    condition     = var.lag_alarm_records >= 1
    error_message = "lag_alarm_records must be at least 1."
  }
}

variable "lag_alarm_seconds" {
  description = "Alarm when any flow's ReplicationLagSeconds (the age of its oldest record not yet copied) stays above this for lag_alarm_minutes: a stalled or slow mirror, even with few records."
  type        = number
  default     = 900

  validation {
    condition     = var.lag_alarm_seconds >= 1
    error_message = "lag_alarm_seconds must be at least 1."
  }
}

variable "lag_alarm_minutes" {
  description = "Minutes in a row the lag must stay above lag_alarm_records before the lag alarm fires."
  type        = number
  default     = 10

  validation {
    condition     = var.lag_alarm_minutes >= 1
    error_message = "lag_alarm_minutes must be at least 1."
  }
}

variable "fencing_alarm_count" {
  description = "Alarm when more units than this are fenced within 5 minutes (a fencing storm)."
  type        = number
  default     = 20

  validation {
    condition     = var.fencing_alarm_count >= 1
    error_message = "fencing_alarm_count must be at least 1."
  }
}

variable "not_reporting_alarm_minutes" {
  description = "Alarm when the mirror reported no invocation for this many minutes in a row while schedule_state is ENABLED (the alarm exists only then). Keep it above the mirror_schedule interval."
  type        = number
  default     = 10

  validation {
    condition     = var.not_reporting_alarm_minutes >= 1
    error_message = "not_reporting_alarm_minutes must be at least 1."
  }
}

# --- IAM ----------------------------------------------------------------------------------------

variable "permissions_boundary_arn" {
  description = "ARN of an IAM managed policy set as the permissions boundary of every role this module creates (when your account requires one). Empty sets none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+)?$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be empty or an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}
