package invocation

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Issue 18 item 5. An invocation runs every selected flow; it used to run
// them one after another, so a flow with a backlog larger than the budget
// took all of it and the next flow claimed and fenced its units every run
// but copied nothing. Here A->B has 20 MiB to copy to a target whose
// every Produce request kfake holds for 500 ms (far more than the 4 s of
// work the budget leaves), and B->A has 50 records: B->A must copy them in
// the same run.
func TestFlowsShareTheBudget(t *testing.T) {
	pair, _, b := kafkatest.KfakeClusters(t)
	ctx := context.Background()
	big := kafkatest.Unique(t, "big")
	kafkatest.CreateTopic(t, pair.A, big, 1, nil)
	prodA := kafkatest.Producer(t, pair.A, kgo.ProducerBatchMaxBytes(1<<20))
	var recs []*kgo.Record
	for i := 0; i < 5000; i++ {
		recs = append(recs, &kgo.Record{Topic: big, Value: make([]byte, 4<<10)})
	}
	if err := prodA.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	small := kafkatest.Unique(t, "small")
	kafkatest.CreateTopic(t, pair.B, small, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), small, 1, 0, 50)

	a := newApp(t, pair, config.Settings{TimeBudget: 6 * time.Second, SafetyMargin: 2 * time.Second},
		"A->B.topics = "+big, "B->A.enabled = true", "B->A.topics = "+small)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if len(a.Flows) != 2 || a.Flows[0].Name() != "A->B" {
		t.Fatalf("flows %v; the test needs A->B, the one with the backlog, first", a.Flows)
	}
	b.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		wake := time.Now().Add(500 * time.Millisecond)
		b.SleepControl(func() { time.Sleep(time.Until(wake)) })
		return nil, nil, false
	})

	sum, err := a.Mirror(ctx, NewOwner(""))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	ab, ba := sum.Flows[0], sum.Flows[1]
	t.Logf("A->B copied %d records (lag left %d), B->A %d (lag left %d), in %d ms", ab.Records, ab.LagLeft, ba.Records, ba.LagLeft, sum.DurationMs)
	if ab.LagLeft == 0 {
		t.Fatalf("A->B caught up within the budget: the backlog was not a backlog")
	}
	if ba.Records != 50 || ba.LagLeft != 0 {
		t.Fatalf("B->A copied %d of its 50 records in the run (lag left %d): the flow with the backlog took the budget", ba.Records, ba.LagLeft)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.A, "B."+small), 1, 50); err != nil {
		t.Fatal(err)
	}
}

// A flow with nothing to do takes no part of the invocation's budgets: with
// B->A idle, A->B claims the whole MIRROR_MAX_UNITS (and fetch budget),
// not half of it as when the split counted every flow.
func TestIdleFlowTakesNoShare(t *testing.T) {
	pair, _, _ := kafkatest.KfakeClusters(t)
	ctx := context.Background()
	busy := kafkatest.Unique(t, "busy")
	kafkatest.CreateTopic(t, pair.A, busy, 4, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), busy, 4, 0, 20)
	idle := kafkatest.Unique(t, "idle")
	kafkatest.CreateTopic(t, pair.B, idle, 1, nil)

	a := newApp(t, pair, config.Settings{MaxUnits: 4},
		"A->B.topics = "+busy, "B->A.enabled = true", "B->A.topics = "+idle)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if len(a.Flows) != 2 || a.Flows[0].Name() != "A->B" {
		t.Fatalf("flows %v; the test needs A->B, the busy one, first", a.Flows)
	}
	sum, err := a.Mirror(ctx, NewOwner(""))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	ab, ba := sum.Flows[0], sum.Flows[1]
	if ba.UnitsWithLag != 0 {
		t.Fatalf("B->A has %d units with work; the test needs it idle", ba.UnitsWithLag)
	}
	if ab.UnitsClaimed != 4 || ab.Records != 80 || ab.LagLeft != 0 {
		t.Fatalf("A->B claimed %d of 4 units and copied %d of 80 records (lag left %d); want all of MIRROR_MAX_UNITS with B->A idle", ab.UnitsClaimed, ab.Records, ab.LagLeft)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+busy), 4, 20); err != nil {
		t.Fatal(err)
	}
}
