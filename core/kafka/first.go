package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TP is one partition of a topic.
type TP struct {
	Topic     string
	Partition int32
}

// FirstTimestamps reads, for each partition of from, the timestamp of the
// first committed data record at or after its offset and below its end
// (ends, the partitions' last stable offsets): the zero time when there is
// none (only transaction markers or aborted records up to the end).
// Partitions it could not read before ctx ends, or without an end, are
// missing from the result.
//
// It is how old the oldest record not yet consumed (or copied) is, at the
// cost of one client of its own and fetches to each broker for all the
// partitions at once, answered with one record batch per partition, at
// most 4 MiB a response.
func FirstTimestamps(ctx context.Context, opts []kgo.Opt, from, ends map[TP]int64) map[TP]time.Time {
	out := map[TP]time.Time{}
	offsets := map[string]map[int32]kgo.Offset{}
	pending := map[TP]int64{}
	for p, o := range from {
		end, ok := ends[p]
		if !ok {
			continue // no end known: unknown
		}
		if o >= end {
			out[p] = time.Time{} // nothing committed at or after it
			continue
		}
		if offsets[p.Topic] == nil {
			offsets[p.Topic] = map[int32]kgo.Offset{}
		}
		offsets[p.Topic][p.Partition] = kgo.NewOffset().At(o)
		pending[p] = o
	}
	if len(pending) == 0 {
		return out
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers are kept so that a range holding only markers is seen
		// to end.
		kgo.KeepControlRecords(),
		// One batch per partition is all it needs: a broker answers a
		// partition's first batch whole whatever this limit (KIP-74), and
		// the response is bounded across partitions.
		kgo.FetchMaxPartitionBytes(1),
		kgo.FetchMaxBytes(4<<20),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return out
	}
	defer cl.Close()
	for len(pending) > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			p := TP{r.Topic, r.Partition}
			o, ok := pending[p]
			if !ok || r.Offset < o {
				return
			}
			switch {
			case !r.Attrs.IsControl():
				out[p] = r.Timestamp
			case r.Offset+1 >= ends[p]:
				out[p] = time.Time{} // only markers up to the end
			default:
				return
			}
			delete(pending, p)
		})
	}
	return out
}
