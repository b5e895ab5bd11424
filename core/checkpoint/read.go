package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// errStopped: the time budget ended before the topic was read to its end.
var errStopped = errors.New("time budget ended")

// timeZero: no time budget.
var timeZero time.Time

// readTopic reads partition 0 of topic from offset from (0: its start) up
// to its last stable offset, committed records only, calling fn for each
// data record. With a non-zero stopAt it returns errStopped once stopAt
// passes.
func (c *Checkpointer) readTopic(ctx context.Context, topic string, from int64, stopAt time.Time, fn func(*kgo.Record)) error {
	lsos, err := c.TargetAdmin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	lso, ok := lsos.Lookup(topic, 0)
	if !ok || lso.Err != nil {
		return fmt.Errorf("last stable offset of %s: %v", topic, lso.Err)
	}
	if from >= lso.Offset {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, c.TargetOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The records just below the last stable offset of a compacted topic
	// may be gone; after two empty polls (of a second each) with the
	// partition's data below the snapshot offset, there is nothing left.
	empty := 0
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if !stopAt.IsZero() {
			pctx, cancel = context.WithDeadline(ctx, minTime(time.Now().Add(time.Second), stopAt))
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return ferr
		}
		if fs.NumRecords() == 0 {
			if empty++; empty >= 2 {
				return nil
			}
		} else {
			empty = 0
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset+1 >= lso.Offset {
				done = true
			}
		})
		if done {
			return nil
		}
		if !stopAt.IsZero() && time.Now().After(stopAt) {
			return errStopped
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
