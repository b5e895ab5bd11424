// Command demo runs mirrorless end to end with no infrastructure: it
// starts two in-process Kafka clusters (franz-go's kfake), seeds a topic
// named `test` as in MirrorMaker 2's quick start, runs reconcile and
// mirror exactly as the functions do, and prints source and target side
// by side.
//
//	go run ./localtest/cmd/demo            (or: make demo)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	records := flag.Int("records", 1000, "records to seed per partition")
	partitions := flag.Int("partitions", 3, "partitions of the test topic")
	verbose := flag.Bool("v", false, "show the functions' logs")
	flag.Parse()
	if err := run(*records, int32(*partitions), *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(perPartition int, partitions int32, verbose bool) error {
	ctx := context.Background()
	a, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("A"))
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("B"))
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Printf("cluster A (source): %s\ncluster B (target): %s\n\n", a.ListenAddrs()[0], b.ListenAddrs()[0])

	if err := seed(ctx, a.ListenAddrs()[0], partitions, perPartition); err != nil {
		return err
	}
	fmt.Printf("seeded topic `test` on A: %d partitions x %d records (nil keys, tombstones, duplicate headers, 2020 timestamps)\n\n", partitions, perPartition)

	props := strings.Join([]string{
		"clusters = A, B",
		"A.bootstrap.servers = " + a.ListenAddrs()[0],
		"B.bootstrap.servers = " + b.ListenAddrs()[0],
		"A->B.enabled = true",
		"A->B.topics = test",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"sync.group.offsets.enabled = true",
	}, "\n")
	fmt.Printf("connect-mirror-maker.properties:\n  %s\n\n", strings.ReplaceAll(props, "\n", "\n  "))
	os.Setenv("MIRROR_PROPERTIES", props)
	s, err := config.LoadSettings()
	if err != nil {
		return err
	}
	cfg, err := s.LoadConfig()
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ap, err := invocation.New(ctx, s, cfg, logger)
	if err != nil {
		return err
	}
	defer ap.Close()

	rs, err := ap.Reconcile(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fmt.Println("reconcile (the table bin/reconcile prints):")
	table.Plans(os.Stdout, rs.Plans, false) // ends with a blank line

	ms, err := ap.Mirror(ctx, invocation.NewOwner(""))
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	line, _ := json.Marshal(struct {
		Function     string `json:"function"`
		UnitsClaimed int    `json:"units_claimed"`
		Records      int64  `json:"records"`
		Bytes        int64  `json:"bytes"`
		DurationMs   int64  `json:"duration_ms"`
		LagLeft      int64  `json:"lag_left"`
	}{ms.Function, ms.UnitsClaimed, ms.Records, ms.Bytes, ms.DurationMs, ms.LagLeft})
	fmt.Printf("mirror summary: %s\n\n", line)

	if err := compare(ctx, a.ListenAddrs()[0], b.ListenAddrs()[0], partitions); err != nil {
		return err
	}
	return failover(ctx, ap, s, cfg, logger, a.ListenAddrs()[0], partitions, perPartition)
}

// failover commits a consumer group halfway through `test` on A, runs the
// checkpoint function and prints where the group resumes on B.
func failover(ctx context.Context, ap *invocation.Invoker, s config.Settings, cfg *config.Config, logger *slog.Logger, addrA string, partitions int32, perPartition int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrA))
	if err != nil {
		return err
	}
	defer cl.Close()
	offsets := kadm.Offsets{}
	for p := int32(0); p < partitions; p++ {
		offsets.Add(kadm.Offset{Topic: "test", Partition: p, At: int64(perPartition/2 + int(p)), LeaderEpoch: -1})
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "demo-consumer", offsets); err != nil {
		return err
	}
	fmt.Printf("\nconsumer group demo-consumer committed on A at offset %d (+ partition number)\n", perPartition/2)
	cs, err := ap.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	fmt.Printf("checkpoint: %d checkpoints written to A.checkpoints.internal on B, %d group offsets committed on B, %d heartbeats\n\n",
		cs.Checkpoints, cs.OffsetsSynced, cs.Heartbeats)
	plan, err := invocation.Failover(ctx, s, cfg, logger, "demo-consumer", false)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	table.Failover(os.Stdout, plan)
	fmt.Println(`
RESUME AT is where demo-consumer starts on B, the copy of its next record on A: translation is exact,
so RE-READ AT MOST is 0 (MirrorMaker 2 re-reads up to offset.lag.max records). TARGET END counts the
mirror's transaction markers too. The checkpoint run's group offset sync already committed these
offsets on B (in place); after a real outage, bin/checkpoint failover -group <group> -apply does it
by hand (docs/checkpoints.md).`)
	return nil
}

func seed(ctx context.Context, addr string, partitions int32, perPartition int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, "test"); err != nil {
		return err
	}
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			r := &kgo.Record{Topic: "test", Partition: p, Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "message %d", i),
				Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}},
				Timestamp: time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)}
			switch i % 10 {
			case 3:
				r.Key = nil
			case 7:
				r.Value = nil
			}
			recs = append(recs, r)
		}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

func readAll(ctx context.Context, addr, topic string, partitions int32) (map[int32][]*kgo.Record, error) {
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32][]*kgo.Record{}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			if n := len(out[o.Partition]); n > 0 && out[o.Partition][n-1].Offset+2 < o.Offset || n == 0 && o.Offset > 0 {
				done = false
			}
		})
		if done || ctx.Err() != nil {
			return out, nil
		}
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[r.Partition] = append(out[r.Partition], r) })
	}
}

func compare(ctx context.Context, src, dst string, partitions int32) error {
	s, err := readAll(ctx, src, "test", partitions)
	if err != nil {
		return err
	}
	d, err := readAll(ctx, dst, "A.test", partitions)
	if err != nil {
		return err
	}
	fmt.Println("partition | A: test records | B: A.test records | first key / last key on B | identical")
	fmt.Println("----------+-----------------+-------------------+----------------------------+----------")
	allSame := true
	for p := int32(0); p < partitions; p++ {
		same := len(s[p]) == len(d[p])
		for i := 0; same && i < len(s[p]); i++ {
			x, y := s[p][i], d[p][i]
			same = bytes.Equal(x.Key, y.Key) && (x.Key == nil) == (y.Key == nil) && bytes.Equal(x.Value, y.Value) &&
				(x.Value == nil) == (y.Value == nil) && x.Timestamp.Equal(y.Timestamp) && len(x.Headers) == len(y.Headers)
			for h := 0; same && h < len(x.Headers); h++ {
				same = x.Headers[h].Key == y.Headers[h].Key && bytes.Equal(x.Headers[h].Value, y.Headers[h].Value)
			}
		}
		first, last := "-", "-"
		if n := len(d[p]); n > 0 {
			first, last = keyString(d[p][0].Key), keyString(d[p][n-1].Key)
		}
		mark := "yes"
		if !same {
			mark, allSame = "NO", false
		}
		fmt.Printf("%9d | %15d | %17d | %-26s | %s\n", p, len(s[p]), len(d[p]), first+" / "+last, mark)
	}
	fmt.Println()
	if !allSame {
		return fmt.Errorf("the copy differs from the source")
	}
	fmt.Println("every record arrived once, in order, in the same partition, with the same key, value, headers and timestamp.")
	return nil
}

func keyString(k []byte) string {
	if k == nil {
		return "(nil)"
	}
	return string(k)
}
