//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/invocation"
)

// cold measures program start to the first record produced on B.
func (b *bench) cold(ctx context.Context) error {
	bin, err := b.mirrorBin(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b.report, "### cold start: program start to first record produced on B (1 record, fresh topic)\n\n")
	fmt.Fprintf(&b.report, "| run | first record | process wall | `duration_ms` |\n|---:|---:|---:|---:|\n")
	for i := 0; i < b.o.coldRuns; i++ {
		prefix := fmt.Sprintf("prof-cold-%s-%d", b.stamp, i)
		topic := prefix + "-t"
		if err := b.createTopics(ctx, []string{topic}, 1); err != nil {
			return err
		}
		if err := b.seed(ctx, []string{topic}, 1, 1, 100); err != nil {
			return err
		}
		props, err := b.properties(prefix, prefix)
		if err != nil {
			return err
		}
		if err := b.reconcile(ctx, props, []string{"A." + topic}, 1); err != nil {
			return err
		}
		// Read uncommitted: the record is seen when produced, not when
		// its transaction commits.
		cons, err := kgo.NewClient(kgo.SeedBrokers(b.o.b), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"A." + topic: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchMaxWait(50*time.Millisecond))
		if err != nil {
			return err
		}
		if err := cons.Ping(ctx); err != nil {
			cons.Close()
			return err
		}
		seen := make(chan time.Time, 1)
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		go func() {
			for pctx.Err() == nil {
				fs := cons.PollFetches(pctx)
				if fs.NumRecords() > 0 {
					seen <- time.Now()
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond) // the consumer's first fetch is in flight
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = b.settingsEnv(props)
		var out bytes.Buffer
		cmd.Stdout = &out
		t0 := time.Now()
		err = cmd.Run()
		wall := time.Since(t0)
		var first time.Time
		select {
		case first = <-seen:
		case <-pctx.Done():
		}
		cancel()
		cons.Close()
		if err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		if first.IsZero() {
			return errors.New("the record never appeared on B")
		}
		var sum invocation.MirrorSummary
		_ = json.Unmarshal(bytes.TrimSpace(out.Bytes()), &sum)
		fmt.Fprintf(&b.report, "| %d | %d ms | %d ms | %d |\n", i+1, first.Sub(t0).Milliseconds(), wall.Milliseconds(), sum.DurationMs)
	}
	b.report.WriteString("\n")
	return nil
}
