package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// HoldDeletedRemotes keeps reconcile from silently re-creating a remote
// topic that was deleted on the target after the mirror had copied into it.
//
// Kafka deletes a topic's committed offsets with the topic, so the mirror's
// progress for a deleted remote topic is gone; re-created, the topic would
// be re-copied from the source's start (or from wherever
// auto.offset.reset points) with nothing to say it happened. The
// offset-syncs topic outlives it: the mirror writes a sync in each
// transaction that copies records, keyed by source topic and partition. A
// planned creation whose source topic has syncs there is therefore a
// deleted remote topic: the creation is dropped from the plan and a note
// says so, loudly, every run. The operator decides: creating the remote
// topic by hand (same name and partition count) is the explicit consent to
// re-copy.
//
// It reads the offset-syncs topic only when the plan creates a topic, so
// a steady-state run costs nothing; opts are the target's client options.
func (p *Plan) HoldDeletedRemotes(ctx context.Context, f *config.Flow, tgt *kadm.Client, opts []kgo.Opt) error {
	creates := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind == CreateTopic {
			creates[a.SourceTopic] = true
		}
	}
	if len(creates) == 0 {
		return nil
	}
	synced, err := readSyncedTopics(ctx, tgt, opts, f.OffsetSyncsTopic(), creates)
	if err != nil {
		return fmt.Errorf("read %s for deleted remote topics: %w", f.OffsetSyncsTopic(), err)
	}
	if len(synced) == 0 {
		return nil
	}
	kept := p.Actions[:0]
	var held []Action
	for _, a := range p.Actions {
		if a.Kind == CreateTopic {
			if _, ok := synced[a.SourceTopic]; ok {
				held = append(held, a)
				continue
			}
		}
		kept = append(kept, a)
	}
	p.Actions = kept
	sort.Slice(held, func(i, j int) bool { return held[i].Topic < held[j].Topic })
	for _, a := range held {
		s := synced[a.SourceTopic]
		// What to do about it is a runbook in docs/operations.md.
		p.Notes = append(p.Notes, fmt.Sprintf("remote topic %s is missing on %s, but the mirror has copied %s into it before (offset syncs up to source offset %d of partition %d in %s): it was deleted on the target, and its progress with it. Not re-created, since that would re-copy %s from its start; to re-copy, create %s yourself with %d partitions (see \"A remote topic was deleted\" in docs/operations.md)",
			a.Topic, f.Target, a.SourceTopic, s.Upstream, s.Partition, f.OffsetSyncsTopic(), a.SourceTopic, a.Topic, a.Partitions))
		p.Held = append(p.Held, a.Topic)
	}
	return nil
}

// readSyncedTopics reads the offset-syncs topic (one partition, written in
// transactions) up to its last stable offset and returns, for each of the
// wanted source topics that has a sync, the sync with the highest upstream
// offset. Records that do not decode are skipped.
func readSyncedTopics(ctx context.Context, tgt *kadm.Client, opts []kgo.Opt, topic string, want map[string]bool) (map[string]offsetsync.OffsetSync, error) {
	lsos, err := tgt.ListCommittedOffsets(ctx, topic)
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, nil
		}
		return nil, err
	}
	lso, ok := lsos.Lookup(topic, 0)
	if !ok || errors.Is(lso.Err, kerr.UnknownTopicOrPartition) {
		return nil, nil // no syncs topic yet: nothing was ever copied
	}
	if lso.Err != nil {
		return nil, lso.Err
	}
	starts, err := tgt.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	start, _ := starts.Lookup(topic, 0)
	if start.Offset >= lso.Offset {
		return nil, nil
	}
	out := map[string]offsetsync.OffsetSync{}
	r := kafka.Range{Topic: topic, Partition: 0, From: start.Offset, To: lso.Offset, Compacted: true}
	err = kafka.ReadCommitted(ctx, opts, r, func(r *kgo.Record) bool {
		s, err := offsetsync.DecodeOffsetSync(r.Key, r.Value)
		if err != nil || !want[s.Topic] {
			return false
		}
		if prev, ok := out[s.Topic]; !ok || s.Upstream > prev.Upstream {
			out[s.Topic] = s
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
