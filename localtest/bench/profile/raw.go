//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// raw copies a fresh seed with the raw pipe in a child process.
func (b *bench) raw(ctx context.Context) error {
	src := "prof-raw-" + b.stamp + "-src"
	dst := "prof-raw-" + b.stamp + "-dst"
	parts := int32(b.o.partitions)
	if err := b.createTopics(ctx, []string{src}, parts); err != nil {
		return err
	}
	resp, err := b.admB.CreateTopics(ctx, parts, 1, nil, dst)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create %s on B: %w", dst, err)
	}
	defer func() {
		if !b.o.keep {
			_, _ = b.admB.DeleteTopics(context.Background(), dst)
		}
	}()
	if err := b.seed(ctx, []string{src}, parts, b.o.records, b.o.size); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-a", b.o.a, "-b", b.o.b, "-raw-child", fmt.Sprintf("%s,%s,%d", src, dst, parts))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("raw pipe: %w", err)
	}
	hwm := sampleHWM(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("raw pipe: %w", err)
	}
	peakRSS := hwm()
	wall := time.Since(t0)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var res struct {
		Records int64
		Bytes   int64
		Copy    time.Duration
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return fmt.Errorf("raw pipe output %q: %w", out.String(), err)
	}
	if err := b.verify(ctx, src, dst); err != nil {
		return err
	}
	mb := float64(res.Bytes) / 1e6
	fmt.Fprintf(&b.report, "### raw pipe: %d records x %d B, %d partitions (no transactions, acks=all)\n\n", b.o.records, b.o.size, b.o.partitions)
	fmt.Fprintf(&b.report, "| records | MB copied | process wall | copy wall | MB/s (copy) | CPU user+sys | CPU s/GiB | peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b.report, "| %d | %.1f | %.2f s | %.2f s | %.1f | %.2f s | %.2f | %s |\n\n", res.Records, mb, wall.Seconds(), res.Copy.Seconds(),
		mb/res.Copy.Seconds(), cpu.Seconds(), cpu.Seconds()/(float64(res.Bytes)/(1<<30)), mib(peakRSS))
	return nil
}

// rawChild is the raw pipe: read src from the start to its end, produce
// every record to the same partition of dst, acks=all, no transactions.
func rawChild(ctx context.Context, o options) error {
	f := strings.Split(o.rawChild, ",")
	if len(f) != 3 {
		return errors.New("-raw-child src,dst,partitions")
	}
	src, dst := f[0], f[1]
	adm, err := kgo.NewClient(kgo.SeedBrokers(o.a))
	if err != nil {
		return err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, src)
	adm.Close()
	if err != nil {
		return err
	}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Offset > 0 {
			parts[lo.Partition] = kgo.NewOffset().AtStart()
		}
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(o.a), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{src: parts}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cons.Close()
	// Uncompressed, like mirrorless at its defaults: the same output.
	prod, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer prod.Close()
	t0 := time.Now()
	var (
		records, bytesN int64
		mu              sync.Mutex
		perr            error
	)
	done := map[int32]bool{}
	for len(done) < len(parts) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			bytesN += int64(len(r.Key) + len(r.Value))
			for _, h := range r.Headers {
				bytesN += int64(len(h.Key) + len(h.Value))
			}
			prod.Produce(ctx, &kgo.Record{Topic: dst, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp},
				func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						perr = err
						mu.Unlock()
					}
				})
			end, _ := ends.Lookup(src, r.Partition)
			if r.Offset+1 >= end.Offset {
				done[r.Partition] = true
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"Records": records, "Bytes": bytesN, "Copy": time.Since(t0)})
}
