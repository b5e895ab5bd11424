package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// fetch starts one source consumer over the lanes, read_committed from
// each lane's position, and a poller that hands what it fetches to the
// group run (g.in) under the invocation's fetch budget. stop ends both
// and gives back the budget of what was fetched and never taken.
func (g *groupRun) fetch(ctx context.Context, lanes []*lane) (stop func(), _ error) {
	m := g.m
	parts := map[string]map[int32]kgo.Offset{}
	byTP := map[string]map[int32]*lane{}
	for _, l := range lanes {
		if l.pos.Next >= l.u.End && !g.tail {
			continue // only to commit again (dirty): nothing to fetch
		}
		t := l.u.SourceTopic
		if parts[t] == nil {
			parts[t] = map[int32]kgo.Offset{}
			byTP[t] = map[int32]*lane{}
		}
		o := kgo.NewOffset().At(l.pos.Next)
		if l.pos.HasEpoch {
			// kgo validates the position with the source too, and reports
			// a divergence found later in the run (a leader change) as
			// ErrDataLoss.
			o = o.WithEpoch(l.pos.Epoch)
		}
		parts[t][l.u.Partition] = o
		byTP[t][l.u.Partition] = l
	}
	if len(parts) == 0 {
		close(g.in)
		return func() {}, nil
	}
	// A fetch arrives decompressed (text compresses three to ten times),
	// so fetch sizes, not the number of partitions, bound the consumer's
	// memory: a fetch is at most 4 MiB of compressed batches instead of
	// kgo's 50 MiB, and the next one is sent only once the poller has
	// taken all of the previous one (see pollRecords). Half of kgo's 1 MiB
	// per partition bounds memory most with the same throughput; a quarter
	// cost throughput (measured in docs/benchmarks.md). The user's
	// fetch.max.bytes and max.partition.fetch.bytes still win.
	opts := append([]kgo.Opt{
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxBytes(4 << 20),
		kgo.FetchMaxPartitionBytes(512 << 10),
		kgo.MaxConcurrentFetches(0),
		// lz4 batches decoded block by block into one buffer (see
		// kafka.FetchDecompressor), bounded as kgo bounds its own.
		kgo.WithDecompressor(kafka.FetchDecompressor(1 << 30)),
	}, m.SourceOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("source consumer: %w", err)
	}
	pollCtx, cancelPoll := context.WithDeadline(ctx, g.stopAt)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(g.in)
		g.poll(pollCtx, cons, byTP)
	}()
	return func() {
		cancelPoll()
		// The poller may be waiting to hand over a chunk: take it, and
		// everything else queued, giving its budget back.
		for c := range g.in {
			g.inflight.release(sliceBytes(c.recs))
		}
		wg.Wait()
		cons.Close()
	}, nil
}

// poll fetches until ctx ends, routing each partition's records to its
// lane through g.in.
func (g *groupRun) poll(ctx context.Context, cons *kgo.Client, byTP map[string]map[int32]*lane) {
	send := func(c chunk) bool {
		select {
		case g.in <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		fs := cons.PollRecords(ctx, pollRecords)
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			l := byTP[t][p]
			if l == nil {
				g.log.Warn("fetch", "topic", t, "partition", p, "err", err)
				return
			}
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) {
				err = fmt.Errorf("%w: %w: source log diverged while copying %s/%d: %v; the partition stops", ErrPartitionStopped, ErrSourceDiverged, t, p, err)
			}
			if errors.Is(err, kerr.OffsetOutOfRange) {
				err = fmt.Errorf("source data lost: the next offset of %s/%d to copy is no longer on the source (retention, DeleteRecords or the topic was recreated); the partition stays stopped (MIRROR_RESET_POLICY=earliest resumes it from the source's earliest offset)", t, p)
			}
			l.log.Error("fetch failed", "err", err)
			cons.PauseFetchPartitions(map[string][]int32{t: {p}})
			byTP[t][p] = nil
			send(chunk{l: l, err: err})
		})
		fs.EachPartition(func(ft kgo.FetchTopicPartition) {
			if len(ft.Records) == 0 {
				return
			}
			l := byTP[ft.Topic][ft.Partition]
			if l == nil {
				return
			}
			n := sliceBytes(ft.Records)
			if !g.inflight.acquire(ctx, nil, n) {
				return
			}
			if !send(chunk{l: l, recs: ft.Records}) {
				g.inflight.release(n)
			}
		})
	}
}

// pollRecords bounds the records taken from the consumer at once. kgo
// sends the next fetch only when the buffered one is drained, so taking a
// fetch in parts keeps at most one fetch (decompressed, with its record
// structs) in the consumer while the poller waits for budget, instead of
// one in the poller's hands and the next already buffered.
const pollRecords = 8192
