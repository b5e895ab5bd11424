package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// timeZero: no time budget.
var timeZero time.Time

// readTopic reads partition 0 of topic from offset from (0: its start) up
// to its last stable offset, committed records only, calling fn for each
// data record. With a non-zero stopAt it returns kafka.ErrStopped once
// stopAt passes. Every topic it reads (state, offset syncs, checkpoints)
// is compacted.
func (c *Checkpointer) readTopic(ctx context.Context, topic string, from int64, stopAt time.Time, fn func(*kgo.Record)) error {
	lsos, err := c.TargetAdmin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	lso, ok := lsos.Lookup(topic, 0)
	if !ok || lso.Err != nil {
		return fmt.Errorf("last stable offset of %s: %v", topic, lso.Err)
	}
	r := kafka.Range{Topic: topic, Partition: 0, From: from, To: lso.Offset, Compacted: true, StopAt: stopAt}
	return kafka.ReadCommitted(ctx, c.TargetOpts, r, func(r *kgo.Record) bool { fn(r); return false })
}
