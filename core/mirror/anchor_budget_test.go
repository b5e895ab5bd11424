package mirror

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Anchors (auto.offset.reset=latest, partitions with no progress) are one
// transaction per work group, and the groups run one after another, each
// a few round trips and a client. A first run over many groups with a
// small budget must stop anchoring at its stop time, leave the rest to
// later runs, and leave no anchor's transaction open: the review found
// anchors begun past the stop time cut off by the run's deadline, their
// errors failing the run and their offsets-only transactions left
// Ongoing. kfake's target answers each AddOffsetsToTxn 150 ms late, and
// MIRROR_GROUPS=24 puts each partition in a group of its own, so the 24
// anchors take longer than the run's 1 s.
func TestAnchorsStopAtStopTime(t *testing.T) {
	const (
		parts  = 24
		budget = time.Second
		margin = time.Second
		slack  = 3 * time.Second
	)
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "anchors")
	kafkatest.CreateTopic(t, pair.A, src, parts, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, parts, 0, 2)
	m := testMirror(t, pair, "anchors", "A->B.topics = "+src, "A->B.consumer.auto.offset.reset = latest")
	m.Settings.SafetyMargin = margin
	m.Settings.Groups = parts

	var slow, delayed atomic.Bool
	slow.Store(true)
	b.ControlKey(int16(kmsg.AddOffsetsToTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !slow.Load() {
			return nil, nil, false
		}
		b.KeepControl()
		delayed.Store(true)
		b.SleepControl(func() { time.Sleep(150 * time.Millisecond) })
		return nil, nil, false
	})

	group := ProgressGroup(m.Flow)
	start := time.Now()
	res, err := m.Run(ctx, start.Add(budget))
	took := time.Since(start)
	listed, lerr := m.TargetAdmin.ListTransactions(ctx, nil, nil)
	if lerr != nil {
		t.Fatal(lerr)
	}
	for _, l := range listed.Sorted() {
		if l.State == "Ongoing" {
			t.Errorf("transaction %s left %s after the run", l.TxnID, l.State)
		}
	}
	t.Logf("first run: %v, err %v: %+v", took.Round(time.Millisecond), err, res)
	if err != nil {
		t.Fatalf("first run: %v; want the anchors past the stop time left for the next run", err)
	}
	if !delayed.Load() {
		t.Fatal("no AddOffsetsToTxn reached the target: the anchors were not exercised")
	}
	if limit := budget + margin + slack; took > limit {
		t.Errorf("first run took %v; want it bounded by its end (budget %v + margin %v)", took, budget, margin)
	}
	progress, err := readProgress(ctx, m.TargetAdmin, group, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := len(progress)
	if first >= parts {
		t.Fatalf("first run anchored all %d partitions: the budget was not exceeded, the test proves nothing", parts)
	}

	// Later runs anchor the rest at the source end: nothing copied.
	slow.Store(false)
	for run := 0; run < parts && len(progress) < parts; run++ {
		if res := m.testRun(t); res.Records != 0 {
			t.Fatalf("run %d copied %d records; want anchors only", run, res.Records)
		}
		if progress, err = readProgress(ctx, m.TargetAdmin, group, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(progress) != parts {
		t.Fatalf("%d of %d partitions anchored (%d by the first run)", len(progress), parts, first)
	}
	for u, p := range progress {
		if p.Next != 2 {
			t.Errorf("%s anchored at %d; want the source end 2", u, p.Next)
		}
	}
}
