package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipeSummary is what `compare pipe` prints on stdout.
type pipeSummary struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	Ms      int64 `json:"duration_ms"`
}

// runPipe is the raw pipe, run as its own process (`compare pipe ...`) so
// that its CPU and memory are measured like the other copiers': a franz-go
// consumer reading every source partition from the start to the end offset
// it saw at start, handing each record to a franz-go producer for the same
// partition of <prefix>.<topic> on B. No transactions, no progress kept;
// acks=all and idempotence (franz-go's defaults), default batching and
// compression. It is the ceiling for this client stack.
func runPipe(args []string) error {
	fs := flag.NewFlagSet("pipe", flag.ContinueOnError)
	a := fs.String("a", "", "source bootstrap server")
	b := fs.String("b", "", "target bootstrap server")
	prefix := fs.String("prefix", "pipe", "target topic prefix (<prefix>.<topic>)")
	topics := fs.String("topics", "", "comma-separated source topics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *a == "" || *b == "" || *topics == "" {
		return errors.New("pipe: -a, -b and -topics are required")
	}
	ctx := context.Background()
	t0 := time.Now()
	names := strings.Split(*topics, ",")
	srcAdm, err := kgo.NewClient(kgo.SeedBrokers(*a))
	if err != nil {
		return err
	}
	ends, err := kadm.NewClient(srcAdm).ListEndOffsets(ctx, names...)
	srcAdm.Close()
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	end := map[string]map[int32]int64{}
	open := 0
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
			return
		}
		if o.Offset == 0 {
			return
		}
		if from[o.Topic] == nil {
			from[o.Topic], end[o.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		from[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		end[o.Topic][o.Partition] = o.Offset
		open++
	})
	if lerr != nil {
		return lerr
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(*a), kgo.ConsumePartitions(from))
	if err != nil {
		return err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(*b), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// The same output as mirrorless at its defaults (and MM2's):
		// uncompressed batches, so the ceiling does the same work.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Topics first seen after the first metadata load would otherwise
		// wait out the default 5 s minimum metadata age (W3: 1,000 topics).
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return err
	}
	defer prod.Close()

	var failed atomic.Pointer[error]
	onDone := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	var sum pipeSummary
	for open > 0 {
		fetches := cons.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			last := int64(-1)
			for _, r := range p.Records {
				sum.Records++
				sum.Bytes += int64(len(r.Key) + len(r.Value))
				for _, h := range r.Headers {
					sum.Bytes += int64(len(h.Key) + len(h.Value))
				}
				prod.Produce(ctx, &kgo.Record{
					Topic: *prefix + "." + r.Topic, Partition: r.Partition,
					Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp,
				}, onDone)
				last = r.Offset
			}
			if e, ok := end[p.Topic][p.Partition]; ok && last+1 >= e {
				delete(end[p.Topic], p.Partition)
				open--
			}
		})
		if e := failed.Load(); e != nil {
			return fmt.Errorf("produce: %w", *e)
		}
	}
	fmt.Fprintf(os.Stderr, "pipe: consumed %d records in %s\n", sum.Records, time.Since(t0))
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	if e := failed.Load(); e != nil {
		return fmt.Errorf("produce: %w", *e)
	}
	sum.Ms = time.Since(t0).Milliseconds()
	fmt.Fprintf(os.Stderr, "pipe: flushed after %s\n", time.Since(t0))
	return json.NewEncoder(os.Stdout).Encode(sum)
}
