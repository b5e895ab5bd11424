package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Range is the part of one partition ReadCommitted reads: offsets
// [From, To), where To is usually the partition's last stable offset.
type Range struct {
	Topic     string
	Partition int32
	From, To  int64
	// Compacted: the topic is compacted, so the records just below To may
	// be gone and the read could wait for them forever. Two empty polls of
	// a second each then end the read, and a From that compaction or
	// retention removed reads from the log start instead of failing.
	// Otherwise a From below the log start is an error (a data partition
	// must not be read from somewhere else silently), and only ctx bounds
	// the wait.
	Compacted bool
	// StopAt, when not zero, ends the read with ErrStopped once it passes.
	StopAt time.Time
}

// ErrStopped is returned by ReadCommitted when Range.StopAt passed before
// the range was read to its end.
var ErrStopped = errors.New("time budget ended")

// ReadCommitted reads a partition's committed data records in r's range,
// in order, with a client of its own built from opts (read_committed;
// aborted records and control records are never passed to fn). It stops
// after the last record of the range, or when fn returns true. Every loop
// that reads a partition's committed records uses it: the mirror's remote
// scans and adoption, the checkpoint function's state and syncs, and
// reconcile's check for deleted remote topics.
func ReadCommitted(ctx context.Context, opts []kgo.Opt, r Range, fn func(*kgo.Record) (stop bool)) error {
	if r.To <= r.From {
		return nil
	}
	reset := kgo.NoResetOffset()
	if r.Compacted {
		reset = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.Topic: {r.Partition: kgo.NewOffset().At(r.From)}}),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records are kept so that a range ending in a
		// transaction marker is seen to end.
		kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	empty := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		switch {
		case r.Compacted && !r.StopAt.IsZero():
			pctx, cancel = context.WithDeadline(ctx, minTime(time.Now().Add(time.Second), r.StopAt))
		case r.Compacted:
			pctx, cancel = context.WithTimeout(ctx, time.Second)
		case !r.StopAt.IsZero():
			pctx, cancel = context.WithDeadline(ctx, r.StopAt)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s/%d: %w", r.Topic, r.Partition, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			// A poll's own deadline is not an error of the read.
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = errors.Join(ferr, err)
			}
		})
		if ferr != nil {
			return fmt.Errorf("read %s/%d: %w", r.Topic, r.Partition, ferr)
		}
		if fs.NumRecords() == 0 {
			if empty++; r.Compacted && empty >= 2 {
				return nil
			}
		} else {
			empty = 0
		}
		done := false
		fs.EachRecord(func(rec *kgo.Record) {
			if done {
				return
			}
			if rec.Offset >= r.To {
				done = true
				return
			}
			if !rec.Attrs.IsControl() && fn(rec) {
				done = true
				return
			}
			if rec.Offset+1 >= r.To {
				done = true
			}
		})
		if done {
			return nil
		}
		if !r.StopAt.IsZero() && time.Now().After(r.StopAt) {
			return ErrStopped
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
