package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/meter"
)

// timeZero: no time budget.
var timeZero time.Time

// readTopic reads partition 0 of topic from offset from (0: its start) up
// to its last stable offset, committed records only, calling fn for each
// data record. With a non-zero stopAt it returns kafka.ErrStopped once
// stopAt passes. Every topic it reads (state, offset syncs, checkpoints)
// is compacted.
func (c *Checkpointer) readTopic(ctx context.Context, topic string, from int64, stopAt time.Time, fn func(*kgo.Record)) error {
	return c.readTopicOn(ctx, c.TargetAdmin, c.TargetOpts, topic, from, stopAt, fn)
}

// readTopicOn is readTopic on the cluster of adm and opts.
func (c *Checkpointer) readTopicOn(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, topic string, from int64, stopAt time.Time, fn func(*kgo.Record)) error {
	lsos, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	lso, ok := lsos.Lookup(topic, 0)
	if !ok || lso.Err != nil {
		return fmt.Errorf("last stable offset of %s: %v", topic, lso.Err)
	}
	// For a person watching (checkpoint failover on a terminal): offsets
	// read of the range; however the read ends, the rest counts as done.
	mt := meter.From(ctx)
	mt.AddTotal(max(0, lso.Offset-from))
	next := from
	defer func() { mt.AddDone(max(0, lso.Offset-next)) }()
	r := kafka.Range{Topic: topic, Partition: 0, From: from, To: lso.Offset, Compacted: true, StopAt: stopAt}
	return kafka.ReadCommitted(ctx, opts, r, func(r *kgo.Record) bool {
		fn(r)
		mt.AddRecords(1, int64(len(r.Key)+len(r.Value)))
		if r.Offset >= next {
			mt.AddDone(r.Offset + 1 - next)
			next = r.Offset + 1
		}
		return false
	})
}
