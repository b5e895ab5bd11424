// Package policy holds MirrorMaker 2's naming and selection rules: the
// replication policy that names remote topics, the topic filter, MM2's
// internal-topic rules and cycle detection.
package policy

import (
	"strings"

	"github.com/mirrorless/mirrorless/core/names"
)

// Policy names remote topics and recognises MM2's internal topics. It is
// MM2's ReplicationPolicy; the two implementations are DefaultPolicy
// (`A.orders`) and IdentityPolicy (`orders`).
type Policy interface {
	// FormatRemoteTopic names the copy of topic, replicated from sourceAlias.
	FormatRemoteTopic(sourceAlias, topic string) string
	// TopicSource is the alias a topic was replicated from; ok is false
	// when the name carries none (Java's null).
	TopicSource(topic string) (alias string, ok bool)
	// UpstreamTopic is the topic's name on the cluster it came from.
	UpstreamTopic(topic string) (name string, ok bool)
	// OriginalTopic strips every replication hop.
	OriginalTopic(topic string) string
	HeartbeatsTopic() string
	OffsetSyncsTopic(alias string) string
	CheckpointsTopic(alias string) string
	IsOffsetSyncsTopic(topic string) bool
	IsCheckpointsTopic(topic string) bool
	// IsInternalTopic is true for MM2's own topics and Kafka's (`__x`,
	// `.x`): they are never replicated.
	IsInternalTopic(topic string) bool
	IsHeartbeatsTopic(topic string) bool
}

// DefaultPolicy is MM2's DefaultReplicationPolicy: remote topics are named
// `{source}{separator}{topic}`.
type DefaultPolicy struct {
	Separator string
	// InternalSeparator is used in the names of MM2's internal topics. It
	// equals Separator unless replication.policy.internal.topic.separator.enabled
	// is false, when it is always ".".
	InternalSeparator string
}

// NewDefault returns MM2's default policy with the given separator.
func NewDefault(separator string, internalSeparatorEnabled bool) DefaultPolicy {
	if separator == "" {
		separator = "."
	}
	internal := separator
	if !internalSeparatorEnabled {
		internal = "."
	}
	return DefaultPolicy{Separator: separator, InternalSeparator: internal}
}

func (p DefaultPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	return sourceAlias + p.Separator + topic
}

// TopicSource follows Java's String.split(quote(sep)): trailing empty parts
// are dropped, and fewer than two parts means no source.
func (p DefaultPolicy) TopicSource(topic string) (string, bool) {
	parts := strings.Split(topic, p.Separator)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) < 2 {
		return "", false
	}
	return parts[0], true
}

func (p DefaultPolicy) UpstreamTopic(topic string) (string, bool) {
	src, ok := p.TopicSource(topic)
	if !ok {
		return "", false
	}
	return topic[len(src)+len(p.Separator):], true
}

func (p DefaultPolicy) OriginalTopic(topic string) string { return originalTopic(p, topic) }

func originalTopic(p Policy, topic string) string {
	for {
		up, ok := p.UpstreamTopic(topic)
		if !ok || up == topic {
			return topic
		}
		topic = up
	}
}

func (p DefaultPolicy) HeartbeatsTopic() string { return names.HeartbeatsTopic }

func (p DefaultPolicy) OffsetSyncsTopic(alias string) string {
	return names.OffsetSyncsTopic(p.InternalSeparator, alias)
}

func (p DefaultPolicy) CheckpointsTopic(alias string) string {
	return names.CheckpointsTopic(p.InternalSeparator, alias)
}

func (p DefaultPolicy) IsOffsetSyncsTopic(topic string) bool {
	return strings.HasPrefix(topic, names.OffsetSyncsPrefix) && strings.HasSuffix(topic, p.InternalSeparator+"internal")
}

// IsMM2InternalTopic: MM2's own topics (offset syncs, checkpoints and the
// Connect worker's mm2-offsets/configs/status topics).
func (p DefaultPolicy) IsMM2InternalTopic(topic string) bool {
	return (strings.HasPrefix(topic, "mm2") && strings.HasSuffix(topic, p.InternalSeparator+"internal")) || p.IsCheckpointsTopic(topic)
}

func (p DefaultPolicy) IsCheckpointsTopic(topic string) bool {
	return strings.HasSuffix(topic, p.InternalSeparator+"checkpoints"+p.InternalSeparator+"internal")
}

// IsInternalTopic follows Kafka 4.x (KIP-1074): MM2's own topics and
// names starting with `__` or `.`. MM2 3.x also treated every name ending
// in `.internal` or `-internal` as internal; 4.x replicates those.
func (p DefaultPolicy) IsInternalTopic(topic string) bool {
	return p.IsMM2InternalTopic(topic) || strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, ".")
}

func (p DefaultPolicy) IsHeartbeatsTopic(topic string) bool {
	return p.OriginalTopic(topic) == p.HeartbeatsTopic()
}

// IdentityPolicy is MM2's IdentityReplicationPolicy: remote topics keep
// their names, except heartbeats, which are still prefixed so that
// upstream clusters stay discoverable. It cannot detect cycles.
type IdentityPolicy struct {
	DefaultPolicy
	// SourceAlias is the flow's source cluster (MM2's source.cluster.alias).
	SourceAlias string
}

func (p IdentityPolicy) looksLikeHeartbeat(topic string) bool {
	return strings.HasSuffix(topic, p.HeartbeatsTopic())
}

func (p IdentityPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	if p.looksLikeHeartbeat(topic) {
		return p.DefaultPolicy.FormatRemoteTopic(sourceAlias, topic)
	}
	return topic
}

func (p IdentityPolicy) TopicSource(topic string) (string, bool) {
	if p.looksLikeHeartbeat(topic) {
		return p.DefaultPolicy.TopicSource(topic)
	}
	return p.SourceAlias, p.SourceAlias != ""
}

func (p IdentityPolicy) UpstreamTopic(topic string) (string, bool) {
	if p.looksLikeHeartbeat(topic) {
		return p.DefaultPolicy.UpstreamTopic(topic)
	}
	return topic, true
}

func (p IdentityPolicy) OriginalTopic(topic string) string {
	if p.looksLikeHeartbeat(topic) {
		return p.DefaultPolicy.OriginalTopic(topic)
	}
	return topic
}

func (p IdentityPolicy) IsHeartbeatsTopic(topic string) bool {
	return p.OriginalTopic(topic) == p.HeartbeatsTopic()
}

// IsCycle reports whether topic, seen on a flow's source, came from the
// flow's target: replicating it would send records back where they came
// from. It walks every hop of the name (`B.C.orders`); a policy whose
// upstream name does not shrink (identity) ends the walk, which is why
// identity naming needs an acyclic topology.
func IsCycle(p Policy, target, topic string) bool {
	for {
		src, ok := p.TopicSource(topic)
		if !ok {
			return false
		}
		if src == target {
			return true
		}
		up, ok := p.UpstreamTopic(topic)
		if !ok || up == topic {
			return false
		}
		topic = up
	}
}
