package checkpoint_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// processN is an application consumer of group on addr: it joins the
// group subscribed to topics, processes exactly n records (read_committed;
// a partition with no committed offset starts at its beginning), commits
// the position after the last record it processed on each partition, and
// leaves the group.
func processN(t *testing.T, addr, group string, topics []string, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	commit := map[string]map[int32]kgo.EpochOffset{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s on %s: processed %d records of %d before the timeout", group, addr, len(got), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consume %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if len(got) == n {
				return
			}
			got = append(got, r)
			if commit[r.Topic] == nil {
				commit[r.Topic] = map[int32]kgo.EpochOffset{}
			}
			commit[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		})
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = err
		if err == nil {
			for _, tr := range resp.Topics {
				for _, p := range tr.Partitions {
					if p.ErrorCode != 0 {
						cerr = fmt.Errorf("commit %s/%d: error code %d", tr.Topic, p.Partition, p.ErrorCode)
					}
				}
			}
		}
	})
	if cerr != nil {
		t.Fatalf("group %s: %v", group, cerr)
	}
	return got
}

// processed tracks what the application processed across the clusters:
// each record is identified by the partition and sequence number it was
// produced with, whichever copy was read.
type processed struct {
	t    *testing.T
	seen map[[2]int64]int
}

func (p *processed) add(phase string, recs []*kgo.Record) {
	p.t.Helper()
	for _, r := range recs {
		seq := kafkatest.Seq(r)
		k := [2]int64{int64(r.Partition), seq}
		p.seen[k]++
		if p.seen[k] > 1 {
			p.t.Errorf("%s: partition %d seq %d processed again (read from %s at %d)", phase, r.Partition, seq, r.Topic, r.Offset)
		}
	}
}

// The failback drill (issue 16 item 4) with sequence-numbered records and a
// real consumer group: A->B mirrored while the application produces and
// consumes on A; A is lost; the group fails over to B (checkpoint
// failover -apply) and goes on there while producers write to B; A
// returns; B->A brings A up to date; the group fails back to A. Every
// record produced is processed exactly once over the whole drill: nothing
// lost and nothing re-read at either switch (each stops mid-partition).
func testFailbackDrill(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	a, b := uniqueAlias("a"), uniqueAlias("b")
	topic := kafkatest.Unique(t, "orders")
	group := kafkatest.Unique(t, "app")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	app := aliasedAppWith(t, pair, a, b, config.Settings{BatchRecords: 13},
		b+"->"+a+".enabled = true",
		"topics = "+topic,
		"groups = "+group)
	only := func(flow string) config.Settings { s := app.Settings; s.Flows = []string{flow}; return s }
	p := &processed{t: t, seen: map[[2]int64]int{}}
	total := 0

	// A->B while the application works on A.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 0, 80)
	total += 160
	reconcileAndMirror(t, app)
	p.add("on A", processN(t, pair.A, group, []string{topic}, 100))
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 80, 100)
	total += 40
	if _, err := app.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}
	runCheckpoint(t, app) // the last run before A is lost

	// A is lost: fail the group over to B, where it reads the rest of
	// A's records from the copy, then what producers now write on B.
	plan, err := invocation.Failover(ctx, only(a+"->"+b), app.Config, testLogger(t), group, true)
	if err != nil || !plan.Applied {
		t.Fatalf("failover -apply to B: %v %+v", err, plan)
	}
	for _, tr := range plan.Partitions {
		t.Logf("failover to B: %+v", tr)
		if tr.ReReadMax != 0 {
			t.Errorf("failover to B: %+v may re-read %d records", tr, tr.ReReadMax)
		}
	}
	kafkatest.CreateTopic(t, pair.B, topic, 2, nil)
	onB := []string{a + "." + topic, topic}
	p.add("on B (A's records)", processN(t, pair.B, group, onB, 100))
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), topic, 2, 1000, 1040)
	total += 80
	p.add("on B (B's records)", processN(t, pair.B, group, onB, 50))

	// A returns: B->A brings it up to date; the group fails back to A,
	// where it reads the rest of B's records from their copy, then what
	// producers write on A again.
	back := only(b + "->" + a)
	backApp := newAppFrom(t, back)
	if _, err := backApp.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := backApp.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}
	runCheckpoint(t, backApp)
	plan, err = invocation.Failover(ctx, back, app.Config, testLogger(t), group, true)
	if err != nil || !plan.Applied {
		t.Fatalf("failover -apply back to A: %v %+v", err, plan)
	}
	for _, tr := range plan.Partitions {
		t.Logf("failback to A: %+v", tr)
	}
	onA := []string{topic, b + "." + topic}
	p.add("back on A (B's records)", processN(t, pair.A, group, onA, 30))
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 100, 110)
	total += 20
	p.add("back on A (A's new records)", processN(t, pair.A, group, onA, 20))

	// Every record produced, processed exactly once.
	for part := int64(0); part < 2; part++ {
		for _, r := range [][2]int64{{0, 110}, {1000, 1040}} {
			for seq := r[0]; seq < r[1]; seq++ {
				if n := p.seen[[2]int64{part, seq}]; n != 1 {
					t.Errorf("partition %d seq %d processed %d times", part, seq, n)
				}
			}
		}
	}
	if len(p.seen) != total {
		t.Errorf("%d distinct records processed, %d produced", len(p.seen), total)
	}
	t.Logf("%d records produced on A and B, each processed once across failover and failback", total)
}

func TestFailbackDrill(t *testing.T) { kafkatest.EachPair(t, testFailbackDrill) }
