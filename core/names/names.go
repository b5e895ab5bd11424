// Package names builds every name mirrorless gives a topic, a group or a
// transactional id: MM2's internal topics (which the replication policy
// exposes with its separator), and mirrorless's own groups, state topic and
// transactional ids on the target. One home, so that a name written by one
// function and read by another (the progress group: mirror writes it,
// reconcile tells the operator to delete it) cannot drift apart.
//
// It imports nothing of ours: config and policy build on it.
package names

import (
	"strconv"
	"strings"
)

// Prefix starts every group and transactional id mirrorless owns, so the
// checkpoint function can leave mirrorless's own groups out of translation.
const Prefix = "mirrorless."

// ProgressGroup is the flow's progress group on the target: the mirror
// commits each unit's next source offset there in the unit's transaction.
func ProgressGroup(flow string) string { return Prefix + flow + ".progress" }

// LeaseGroup is the flow's lease group on the target.
func LeaseGroup(flow string) string { return Prefix + flow + ".leases" }

// UnitTransactionalID is the transactional id the mirror's producer for
// one unit had before work groups (issue 17); the first assignment fences
// them. Deriving it from the unit is the fencing: whoever initialises
// it last bumps the producer epoch and aborts the previous holder's open
// transaction, so a stale invocation can never commit.
func UnitTransactionalID(flow, sourceTopic string, partition int32) string {
	return Prefix + flow + "." + sourceTopic + "." + strconv.Itoa(int(partition))
}

// GroupTransactionalID is the transactional id of the mirror's producer
// for work group g of a flow: every writer of the group's partitions uses
// it, so whoever initialises it last fences the previous holder. The ~
// cannot appear in a topic name, so it never meets a UnitTransactionalID.
func GroupTransactionalID(flow string, g int) string {
	return Prefix + flow + ".~group." + strconv.Itoa(g)
}

// AssignTransactionalID is the transactional id under which a flow's
// assignment of partitions to work groups is changed: two invocations
// changing it fence each other.
func AssignTransactionalID(flow string) string { return Prefix + flow + ".~assign" }

// AssignmentGroup holds a flow's assignment of partitions to work groups
// on the target.
func AssignmentGroup(flow string) string { return Prefix + flow + ".assignment" }

// CheckpointTransactionalID is the checkpoint function's producer id for a
// flow: a second invocation fences the first.
func CheckpointTransactionalID(flow string) string { return Prefix + flow + ".checkpoint" }

// IsOwnGroup reports whether a group is one of mirrorless's own (progress,
// leases), which are never translated or synced as consumer groups.
func IsOwnGroup(group string) bool { return strings.HasPrefix(group, Prefix) }

// OffsetSyncsPrefix starts MM2's offset-syncs topic names.
const OffsetSyncsPrefix = "mm2-offset-syncs"

// HeartbeatsTopic is MM2's heartbeats topic.
const HeartbeatsTopic = "heartbeats"

// OffsetSyncsTopic is MM2's offset-syncs topic for a source alias, with
// the policy's internal separator (replication.policy.separator).
func OffsetSyncsTopic(sep, alias string) string {
	return OffsetSyncsPrefix + sep + alias + sep + "internal"
}

// CheckpointsTopic is MM2's checkpoints topic for a source alias.
func CheckpointsTopic(sep, alias string) string {
	return alias + sep + "checkpoints" + sep + "internal"
}

// CheckpointStateTopic is where the checkpoint function keeps its state on
// the target, named after the flow's offset-syncs topic with its prefix
// replaced, so that it keeps the policy's separator. The name starts with
// "mm2" and ends in ".internal": MM2 and mirrorless both treat it as
// internal and never replicate it.
func CheckpointStateTopic(offsetSyncsTopic string) string {
	return "mm2-mirrorless-checkpoint-state" + strings.TrimPrefix(offsetSyncsTopic, OffsetSyncsPrefix)
}

// MM2OffsetsTopic is where MirrorMaker 2 in dedicated mode keeps its
// source connector's offsets for a source alias: on the target.
func MM2OffsetsTopic(source string) string { return "mm2-offsets." + source + ".internal" }
