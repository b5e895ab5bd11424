package checkpoint

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// at is an offset of a remote partition.
type at struct {
	t      tp
	offset int64
}

// lagging is a translated offset below its partition's end, n offsets
// before it.
type lagging struct {
	at
	n int64
}

// maxLagRounds bounds the reads of groupLags: each round reads one offset
// per remote partition, so partitions where more than this many distinct
// translated offsets lag get no time lag this run.
const maxLagRounds = 4

// groupLags is each group's lag on the target: records from lagRecords,
// seconds from the timestamps of the first record at or after each of its
// lagging offsets (behind), read until stopAt at most (zero: no bound).
func (c *Checkpointer) groupLags(ctx context.Context, stopAt time.Time, lagRecords map[string]int64, behind map[string][]lagging) []GroupLag {
	if !stopAt.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, stopAt)
		defer cancel()
	}
	want := map[tp][]int64{}
	for _, as := range behind {
		for _, a := range as {
			want[a.t] = append(want[a.t], a.offset)
		}
	}
	for t, os := range want {
		slices.Sort(os)
		want[t] = slices.Compact(os)
	}
	stamps := c.firstTimestamps(ctx, want)
	now := time.Now()
	out := make([]GroupLag, 0, len(lagRecords))
	for g, n := range lagRecords {
		l := GroupLag{Group: g, Records: n}
		unknown := false
		for _, a := range behind[g] {
			ts, ok := stamps[a.at]
			switch {
			case !ok:
				unknown = true
			case ts.IsZero():
				l.Records -= a.n // only markers or aborted records left: nothing to consume
			default:
				l.Seconds = max(l.Seconds, now.Sub(ts).Seconds())
			}
		}
		if unknown {
			l.Seconds = -1
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// firstTimestamps reads, for each offset, the timestamp of the first
// committed record at or after it (the zero time when there is none below
// the partition's end). Offsets it could not read are missing.
func (c *Checkpointer) firstTimestamps(ctx context.Context, want map[tp][]int64) map[at]time.Time {
	out := map[at]time.Time{}
	for round := 0; round < maxLagRounds && ctx.Err() == nil; round++ {
		offsets := map[string]map[int32]kgo.Offset{}
		pending := map[tp]int64{}
		for t, os := range want {
			if round < len(os) {
				if offsets[t.Topic] == nil {
					offsets[t.Topic] = map[int32]kgo.Offset{}
				}
				offsets[t.Topic][t.Partition] = kgo.NewOffset().At(os[round])
				pending[t] = os[round]
			}
		}
		if len(pending) == 0 {
			break
		}
		c.readFirst(ctx, offsets, pending, out)
	}
	return out
}

// readFirst reads the first committed record at or after each pending
// offset, up to the partitions' last stable offsets, for at most a few
// seconds.
func (c *Checkpointer) readFirst(ctx context.Context, offsets map[string]map[int32]kgo.Offset, pending map[tp]int64, out map[at]time.Time) {
	var topics []string
	for t := range offsets {
		topics = append(topics, t)
	}
	lsos, err := c.TargetAdmin.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return
	}
	for t, from := range pending {
		if l, ok := lsos.Lookup(t.Topic, t.Partition); ok && l.Err == nil && from >= l.Offset {
			out[at{t, from}] = time.Time{} // nothing committed to consume
			delete(pending, t)
		}
	}
	if len(pending) == 0 {
		return
	}
	from, ends := map[kafka.TP]int64{}, map[kafka.TP]int64{}
	for t, o := range pending {
		p := kafka.TP{Topic: t.Topic, Partition: t.Partition}
		from[p] = o
		if l, ok := lsos.Lookup(t.Topic, t.Partition); ok && l.Err == nil {
			ends[p] = l.Offset
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for p, ts := range kafka.FirstTimestamps(rctx, c.TargetOpts, from, ends) {
		t := tp{p.Topic, p.Partition}
		out[at{t, pending[t]}] = ts
	}
}
