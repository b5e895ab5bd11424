package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/names"
)

// A changer of the assignment killed between writing the entry in its
// transaction and committing it leaves the entry unreadable (an unstable
// offset) until the transaction times out: every run then failed reading
// it (seen in TestConcurrentGroupsSigkill's long run: "UNSTABLE_OFFSET_COMMIT"
// after 5 s of retries). Now a reader that waits a second fences the
// change's id, which aborts the dead write, and reads the entry as it was.
func testAssignmentStuckWrite(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "stuck")
	kafkatest.CreateTopic(t, pair.A, src, 2, nil)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "stuck", sa+"->"+ta+".topics = "+src)
	m.Settings.TransactionTimeout = time.Minute // the dead write would block reads this long
	p, before := m.testPlanSettled(t, 2)

	// A changer writes K=3 as pending and dies before its EndTxn.
	txnID := names.AssignTransactionalID(m.Flow.Name())
	prod, err := m.initProducer(ctx, txnID)
	if err != nil {
		t.Fatal(err)
	}
	group := names.AssignmentGroup(m.Flow.Name())
	topic, partition := m.assignmentKey()
	dead := Assignment{Groups: 3, Gen: before.Gen + 1, Used: 3, Written: nowMilli()}
	if err := kafka.AddOffsetsToTxn(ctx, prod, txnID, group); err != nil {
		t.Fatal(err)
	}
	if err := kafka.TxnOffsetCommit(ctx, prod, txnID, group, kafka.TxnOffset{Topic: topic, TopicID: p.OffsetSyncsID, Partition: partition, Offset: dead.Gen, Metadata: dead.metadata()}); err != nil {
		t.Fatal(err)
	}
	prod.Close() // no EndTxn: the write stays open

	start := time.Now()
	got, ok, err := m.readAssignment(ctx)
	took := time.Since(start)
	if err != nil || !ok || !got.same(before) || !got.Ready {
		t.Fatalf("read after a dead write (%v): %+v, found %v, err %v; want the assignment before it (%+v)", took.Round(time.Millisecond), got, ok, err, before)
	}
	t.Logf("read the assignment before the dead write after %v", took.Round(time.Millisecond))
	// And a run copies under it.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 2, 0, 10)
	res := m.testRun(t)
	if res.Groups != 2 || res.Records != 20 {
		t.Errorf("run after the dead write copied %d records under %d groups, want 20 under 2", res.Records, res.Groups)
	}
}

func TestAssignmentStuckWrite(t *testing.T) { kafkatest.EachPair(t, testAssignmentStuckWrite) }

// An unchanged assignment is written again once older than
// MIRROR_PROGRESS_REFRESH, so that the broker's offset retention never
// expires it; the refresh is not a change: a writer that planned under the
// entry before it still copies.
func testAssignmentRefreshed(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "refresh")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "refresh", sa+"->"+ta+".topics = "+src)
	p, first := m.testPlanSettled(t, 1)
	g := &groupRun{m: m, id: 0, assign: first, txnID: m.groupTxnID(0), log: m.Logger}
	m.Settings.ProgressRefresh = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	if _, err := m.settle(ctx, 1, p.OffsetSyncsID, nil); err != nil {
		t.Fatal(err)
	}
	got, ok, err := m.readAssignment(ctx)
	if err != nil || !ok {
		t.Fatalf("read: %v, found %v", err, ok)
	}
	if got.Refreshed.IsZero() || !got.same(first) || !got.Ready {
		t.Fatalf("after the refresh: %+v; want %+v with a refresh time", got, first)
	}
	if err := g.initProducer(ctx); err != nil {
		t.Fatalf("a writer planned before the refresh: %v; want it to go on", err)
	}
	g.prod.Close()
}

func TestAssignmentRefreshed(t *testing.T) { kafkatest.EachPair(t, testAssignmentRefreshed) }

// A fan-out worker (Worker, Groups K) copies under its tick's assignment
// of K groups and never changes the assignment itself: two changers would
// fence each other's groups. Started while the flow's assignment is still
// at one group, it waits (awaitAssignment) until the tick, another
// Mirror, has settled three a second later, then copies every partition
// under three groups. The assignment is read just before the tick
// settles: a worker that changed it would have written three groups by
// then, and one that did not wait for K would have copied under one.
func testWorkerAwaitsTick(t *testing.T, pair kafkatest.Pair) {
	const partitions, records, k = 4, 50, 3
	ctx := context.Background()
	src := kafkatest.Unique(t, "worker")
	kafkatest.CreateTopic(t, pair.A, src, partitions, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, partitions, 0, records)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	tick := flowMirror(t, pair, sa, ta, "tick", props...)
	p, first := tick.testPlanSettled(t, 1) // an earlier tick's

	w := flowMirror(t, pair, sa, ta, "worker", props...)
	w.Worker, w.Groups = true, k
	type ran struct {
		res *Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := w.Run(ctx, time.Now().Add(20*time.Second))
		done <- ran{res, err}
	}()

	time.Sleep(time.Second)
	before, ok, err := tick.readAssignment(ctx)
	if err != nil || !ok {
		t.Fatalf("read the assignment: %v (found %v)", err, ok)
	}
	if !before.same(first) || !before.Ready {
		t.Errorf("the assignment a second after the worker started: %+v; want the earlier tick's %+v (the worker changed it)", before, first)
	}
	settled, err := tick.settle(ctx, k, p.OffsetSyncsID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if settled.Groups != k || settled.Gen != first.Gen+1 {
		t.Fatalf("the tick settled %+v; want %d groups at generation %d", settled, k, first.Gen+1)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("worker run: %v (%+v)", r.err, r.res)
	}
	if r.res.Groups != k || r.res.Records != partitions*records {
		t.Errorf("the worker copied %d records under %d groups; want %d under the tick's %d", r.res.Records, r.res.Groups, partitions*records, k)
	}
	after, ok, err := tick.readAssignment(ctx)
	if err != nil || !ok || !after.same(settled) {
		t.Errorf("the assignment after the worker: %+v (found %v, %v); want the tick's %+v", after, ok, err, settled)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+src), partitions, records); err != nil {
		t.Error(err)
	}
}

func TestWorkerAwaitsTick(t *testing.T) { kafkatest.EachPair(t, testWorkerAwaitsTick) }

// A fan-out worker whose tick never settles its assignment (the tick died
// between writing three groups as pending and making them ready) waits
// until its stop time, not awaitMax, and ends there with the "not ready"
// outcome: nothing copied, no error, the assignment as it found it
// (finishing the change is the next tick's, not a worker's), within its
// budget (the stop time plus the safety margin).
func testWorkerTickNeverSettles(t *testing.T, pair kafkatest.Pair) {
	const k = 3
	ctx := context.Background()
	src := kafkatest.Unique(t, "unsettled")
	kafkatest.CreateTopic(t, pair.A, src, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 2, 0, 20)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	tick := flowMirror(t, pair, sa, ta, "tick", props...)
	p, first := tick.testPlanSettled(t, 1)
	// The dying tick's pending write of three groups.
	txnID := names.AssignTransactionalID(tick.Flow.Name())
	prod, err := tick.initProducer(ctx, txnID)
	if err != nil {
		t.Fatal(err)
	}
	pending := Assignment{Groups: k, Gen: first.Gen + 1, Used: k, Written: nowMilli()}
	err = tick.writeAssignment(ctx, prod, txnID, pending, p.OffsetSyncsID)
	prod.Close()
	if err != nil {
		t.Fatal(err)
	}

	w := flowMirror(t, pair, sa, ta, "worker", props...)
	w.Worker, w.Groups = true, k
	const budget = 3 * time.Second
	start := time.Now()
	res, err := w.Run(ctx, start.Add(budget))
	took := time.Since(start)
	t.Logf("worker ended after %v: %+v, %v", took.Round(time.Millisecond), res, err)
	if err != nil {
		t.Fatalf("worker run: %v; want no error", err)
	}
	if res.Records != 0 || res.Groups != 0 || len(res.Detail) != 0 || res.UnitsWithLag != 2 {
		t.Errorf("worker result: %+v; want 2 partitions with lag and nothing claimed or copied", res)
	}
	if limit := budget + w.Settings.SafetyMargin; took > limit {
		t.Errorf("worker ended after %v; want within its stop time plus the safety margin (%v)", took, limit)
	}
	if took < budget {
		t.Errorf("worker ended after %v, before its stop time %v: it did not wait for the tick", took, budget)
	}
	a, ok, err := w.readAssignment(ctx)
	if err != nil || !ok || !a.same(pending) || a.Ready {
		t.Errorf("the assignment after the worker: %+v (found %v, %v); want the pending one it found, %+v", a, ok, err, pending)
	}
}

func TestWorkerTickNeverSettles(t *testing.T) { kafkatest.EachPair(t, testWorkerTickNeverSettles) }
