package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// warmUp gives B what any cluster that has seen a transaction and a
// consumer group already has: __transaction_state (50 partitions) and
// __consumer_offsets, created and loaded. On a fresh pair the first
// copier to use a transaction or a group would otherwise pay for creating
// them inside its timed run (on this 2-core machine, several seconds of
// the first mirrorless copy), which says nothing about copying.
func warmUp(ctx context.Context, o *options, admB *kadm.Client) (time.Duration, error) {
	start := time.Now()
	const topic = "bench-warmup"
	if _, err := admB.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		return 0, fmt.Errorf("create %s on B: %w", topic, err)
	}
	defer func() { _, _ = admB.DeleteTopics(context.WithoutCancel(ctx), topic) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.TransactionalID("bench-warmup"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	for {
		err := cl.BeginTransaction()
		if err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("warm-up")}).FirstErr()
			if cerr := cl.EndTransaction(ctx, kgo.TransactionEndTry(err == nil)); err == nil {
				err = cerr
			}
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("warm-up transaction on B: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
	for {
		resp, err := admB.CommitOffsets(ctx, "bench-warmup", offs)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("warm-up group commit on B: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, _ = admB.DeleteGroups(ctx, "bench-warmup")
	return time.Since(start), nil
}
