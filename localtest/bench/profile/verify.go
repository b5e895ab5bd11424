//go:build unix

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// verify compares committed record counts per partition.
func (b *bench) verify(ctx context.Context, src, dst string) error {
	want, err := countCommitted(ctx, b.o.a, src)
	if err != nil {
		return fmt.Errorf("count %s on A: %w", src, err)
	}
	got, err := countCommitted(ctx, b.o.b, dst)
	if err != nil {
		return fmt.Errorf("count %s on B: %w", dst, err)
	}
	for p, n := range want {
		if got[p] != n {
			return fmt.Errorf("%s/%d has %d records, the source %d", dst, p, got[p], n)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s has %d partitions with data, the source %d", dst, len(got), len(want))
	}
	logf("verified %s: every partition has the source's record count", dst)
	return nil
}

// countCommitted reads a topic read_committed to its last stable offsets
// and counts data records per partition.
func countCommitted(ctx context.Context, addr, topic string) (map[int32]int64, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	// A commit's markers follow EndTxn: wait until the last stable offset
	// reaches the high watermark, or the count misses the last
	// transaction of a mirror that has just exited.
	var ends kadm.ListedOffsets
	kadmin := kadm.NewClient(adm)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ends, err = kadmin.ListCommittedOffsets(ctx, topic)
		if err != nil {
			adm.Close()
			return nil, err
		}
		hwm, err := kadmin.ListEndOffsets(ctx, topic)
		if err != nil {
			adm.Close()
			return nil, err
		}
		stable := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := ends.Lookup(topic, o.Partition); !ok || l.Offset != o.Offset {
				stable = false
			}
		})
		if stable || time.Now().After(deadline) {
			break
		}
	}
	adm.Close()
	parts := map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			parts[o.Partition] = kgo.NewOffset().AtStart()
			left++
		}
	})
	counts := map[int32]int64{}
	if left == 0 {
		return counts, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	done := map[int32]bool{}
	for len(done) < left {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				counts[r.Partition]++
			}
			end, _ := ends.Lookup(topic, r.Partition)
			if r.Offset+1 >= end.Offset {
				done[r.Partition] = true
			}
		})
	}
	return counts, nil
}
