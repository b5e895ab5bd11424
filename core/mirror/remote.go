package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hasCommittedRecords reports whether a remote partition holds any
// committed data record. A partition can be non-empty yet hold none: a
// first transaction killed before its commit leaves aborted records and an
// abort marker, and that must not look like foreign data.
func hasCommittedRecords(ctx context.Context, targetOpts []kgo.Opt, topic string, partition int32) (bool, error) {
	adm, err := kadm.NewOptClient(targetOpts...)
	if err != nil {
		return false, err
	}
	defer adm.Close()
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, err)
	}
	s, _ := starts.Lookup(topic, partition)
	e, _ := ends.Lookup(topic, partition)
	if s.Err != nil || e.Err != nil {
		return false, fmt.Errorf("list offsets of %s/%d: %v %v", topic, partition, s.Err, e.Err)
	}
	if e.Offset <= s.Offset {
		return false, nil
	}
	opts := append([]kgo.Opt{}, targetOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(s.Offset)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("scan remote partition %s/%d: %w", topic, partition, err)
		}
		var found bool
		var next int64 = -1
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return false, fmt.Errorf("scan remote partition %s/%d: %w", topic, partition, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				found = true
			}
			next = r.Offset + 1
		})
		if found {
			return true, nil
		}
		if next >= e.Offset {
			return false, nil
		}
	}
}
