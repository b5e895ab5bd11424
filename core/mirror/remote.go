package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
)

// remoteBounds lists the start and last stable offsets of the units'
// remote partitions in two requests.
func remoteBounds(ctx context.Context, adm *kadm.Client, units []*unit) (map[lease.Unit][2]int64, error) {
	topics := map[string]bool{}
	for _, u := range units {
		topics[u.Unit.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	out := map[lease.Unit][2]int64{}
	if len(names) == 0 {
		return out, nil
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list remote start offsets: %w", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list remote end offsets: %w", err)
	}
	for _, u := range units {
		s, _ := starts.Lookup(u.Unit.Topic, u.Partition)
		e, _ := ends.Lookup(u.Unit.Topic, u.Partition)
		if s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("list offsets of %s: %v %v", u.Unit, s.Err, e.Err)
		}
		out[u.Unit] = [2]int64{s.Offset, e.Offset}
	}
	return out, nil
}

// hasCommittedRecords reports whether the remote partition's range
// [start, end) holds any committed data record. A partition can be
// non-empty yet hold none: a first transaction killed before its commit
// leaves aborted records and an abort marker, and that must not look like
// foreign data.
func hasCommittedRecords(ctx context.Context, targetOpts []kgo.Opt, topic string, partition int32, start, end int64) (bool, error) {
	opts := append(append([]kgo.Opt{}, targetOpts...), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	found := false
	err := kafka.ReadCommitted(ctx, opts, kafka.Range{Topic: topic, Partition: partition, From: start, To: end}, func(*kgo.Record) bool {
		found = true
		return true
	})
	if err != nil {
		return false, fmt.Errorf("scan remote partition: %w", err)
	}
	return found, nil
}
