package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/names"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// syncGrowth is what a copy added to the offset-syncs topic for a
// workload's topics: records and their key + value + header bytes.
type syncGrowth struct {
	Syncs, Bytes int64
	Partitions   int
}

// measureSyncs reads mirrorless' offset-syncs topic on B (alias ML) to its
// end and counts the syncs of the workload's topics (fresh each round, so
// nothing of another round is counted).
func measureSyncs(ctx context.Context, o *options, adm *kadm.Client, w *workload) (syncGrowth, error) {
	g := syncGrowth{Partitions: len(w.Topics) * int(w.Partitions)}
	topic := names.OffsetSyncsTopic(".", "ML")
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return g, fmt.Errorf("end of %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil || end.Offset == 0 {
		return g, fmt.Errorf("end of %s: %v", topic, end.Err)
	}
	ours := map[string]bool{}
	for _, t := range w.Topics {
		ours[t] = true
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return g, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return g, fmt.Errorf("read %s: %w", topic, err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= end.Offset {
				done = true
			}
			if r.Attrs.IsControl() {
				return
			}
			s, err := offsetsync.DecodeOffsetSync(r.Key, r.Value)
			if err != nil || !ours[s.Topic] {
				return
			}
			g.Syncs++
			g.Bytes += int64(len(r.Key) + len(r.Value))
			for _, h := range r.Headers {
				g.Bytes += int64(len(h.Key) + len(h.Value))
			}
		})
		if done {
			return g, nil
		}
	}
}

// perMillion is the syncs per million records copied.
func (g syncGrowth) perMillion(records int64) float64 {
	if records == 0 {
		return 0
	}
	return float64(g.Syncs) / (float64(records) / 1e6)
}
