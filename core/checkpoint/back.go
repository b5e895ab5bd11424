package checkpoint

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/names"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// Failing back. A group that failed over from T to S consumed the copies
// S holds of T's topics (the remote topics T.orders on S); when T returns,
// the flow S->T brings T up to date with S's own topics, but cycle rules
// keep T.orders from being copied back, so no offset sync of this flow
// covers it (in MM2 neither: its checkpoint task renames such a topic back
// to orders but rarely has a sync to translate through). mirrorless knows
// exactly where each record of T.orders came from: the reverse flow T->S
// copied it, and its checkpoint index (in its state topic on S) maps every
// copy back to its source offset (offsetsync.Index.TranslateBack). So a
// group's offset on T.orders on S translates to orders on T, written as a
// checkpoint of topic orders (MM2's naming for it) and synced or failed
// over like any other.

// isBack: topic, on the flow's source, is a copy of one of the flow's
// target's topics (a remote topic whose source cluster is the target).
func (c *Checkpointer) isBack(topic string) bool {
	src, ok := c.Flow.Rules.Policy.TopicSource(topic)
	return ok && src == c.Flow.Target
}

// targetTopic is the topic on the target a source topic's group offsets
// translate to: its remote topic, or for a copy of the target's own topic,
// that topic.
func (c *Checkpointer) targetTopic(topic string) string {
	if c.isBack(topic) {
		return c.Flow.Rules.Policy.OriginalTopic(topic)
	}
	return c.Flow.Rules.RemoteTopic(topic)
}

// backIndex reads the reverse flow's translation indexes (its checkpoint
// state on this flow's source) for the target topics that groups' back
// topics map to, keyed by that target topic (the reverse flow's source
// topic). Nothing when no group has a back topic or the reverse flow never
// checkpointed.
func (c *Checkpointer) backIndex(ctx context.Context, groups map[string]groupOffsets) map[tp]*offsetsync.Index {
	out := map[tp]*offsetsync.Index{}
	need := false
	for _, m := range groups {
		for t := range m {
			need = need || c.isBack(t.Topic)
		}
	}
	if !need {
		return out
	}
	topic := names.CheckpointStateTopic(c.Flow.Rules.Policy.OffsetSyncsTopic(c.Flow.Target))
	if missing, err := missingTopics(ctx, c.SourceAdmin, []string{topic}); err != nil || len(missing) > 0 {
		c.log().Info("no translation back for copies of the target's topics: the reverse flow has no checkpoint state on the source",
			"topic", topic, "err", err)
		return out
	}
	st := newState()
	if err := c.readTopicOn(ctx, c.SourceAdmin, c.SourceOpts, topic, 0, timeZero, func(r *kgo.Record) {
		_ = st.apply(string(r.Key), r.Value)
	}); err != nil {
		c.log().Warn("could not read the reverse flow's checkpoint state; no translation back this run", "topic", topic, "err", err)
		return out
	}
	for t, x := range st.index {
		out[t] = x
	}
	return out
}
