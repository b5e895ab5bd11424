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
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.settle(ctx, 2, p.OffsetSyncsID, nil)
	if err != nil {
		t.Fatal(err)
	}

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
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.settle(ctx, 1, p.OffsetSyncsID, nil)
	if err != nil {
		t.Fatal(err)
	}
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
