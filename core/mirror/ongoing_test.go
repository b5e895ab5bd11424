package mirror

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// groupTxnsOngoing lists the transactions of m's work groups the target
// has in state Ongoing.
func groupTxnsOngoing(t *testing.T, m *Mirror) []string {
	t.Helper()
	listed, err := m.TargetAdmin.ListTransactions(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := names.GroupTransactionalID(m.Flow.Name(), 0)
	prefix = prefix[:len(prefix)-1]
	var out []string
	for _, l := range listed.Sorted() {
		if strings.HasPrefix(l.TxnID, prefix) && l.State == "Ongoing" {
			out = append(out, l.TxnID)
		}
	}
	return out
}

// A group transaction that added the progress group (a raw
// AddOffsetsToTxn: the first after the group's InitProducerID) and was
// aborted before any record was produced was left Ongoing on the target:
// kgo's EndTransaction ends no transaction in which it produced nothing.
// The coordinator kept it until transaction.timeout.ms, or until the next
// invocation's InitProducerID of the group aborted it.
//
// The path a real pair took: a partition whose position is reset past
// lost data (MIRROR_RESET_POLICY=earliest, the records after it deleted
// before they were copied, nothing after them) and whose refresh is due.
// Its transaction re-committed nothing (no offset sync can go with a
// position that copied nothing since its reset), so it held the progress
// group only and was aborted with nothing produced. Since the reset
// position is committed at once as an anchor (an offsets-only transaction
// ended with a raw EndTxn), that lane is no longer due for a refresh and
// this test no longer reaches the empty abort: TestGroupGoesOnAfterEmptyAbort
// does (control records only), and checks that it did. Here, after the
// run no transaction of the flow's work groups may be Ongoing, the
// partition is done (the run does not repeat a transaction until its stop
// time), the reset is not made again by the next run, and once the source
// has records again that run copies them.
func testNoTxnLeftOngoing(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "ongoing")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, src, 1, 0, 5)
	// Its own flow: one work group, whose transactional id no other
	// test shares.
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "ongoing", sa+"->"+ta+".topics = "+src)
	m.Settings.Groups = 1
	m.testRun(t)

	// 5..9 are deleted before they are copied.
	kafkatest.ProduceSeq(t, prod, src, 1, 5, 10)
	deleteSourceRecords(t, m, src, 0, 10)
	m.Settings.ResetPolicy = config.ResetEarliest
	m.Settings.ProgressRefresh = time.Millisecond

	res, err := m.Run(ctx, time.Now().Add(8*time.Second))
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, res)
	}
	if len(res.Detail) != 1 || res.Detail[0].Reset == "" {
		t.Fatalf("run: %+v; want the partition reset past the deleted records", res.Detail)
	}
	if d := res.Detail[0]; d.Status != UnitDone {
		t.Errorf("the reset partition ended %q (%s); want %q: nothing is left to do for it", d.Status, d.Error, UnitDone)
	}
	if open := groupTxnsOngoing(t, m); len(open) > 0 {
		t.Errorf("after the run, transactions %v are Ongoing on the target; want none", open)
	}

	kafkatest.ProduceSeq(t, prod, src, 1, 10, 15)
	if res := m.testRun(t); res.Resets != 0 {
		t.Errorf("the next run reset the partition again: %+v", res.Detail)
	}
	seen := map[int64]int{}
	for _, r := range kafkatest.ReadAll(t, pair.B, sa+"."+src) {
		seen[kafkatest.Seq(r)]++
	}
	for i := int64(0); i < 15; i++ {
		want := 1
		if i >= 5 && i < 10 {
			want = 0 // deleted before they were copied
		}
		if seen[i] != want {
			t.Errorf("record %d on the target %d times; want %d", i, seen[i], want)
		}
	}
	if got, ok := m.testPosition(t, lease.Unit{Topic: sa + "." + src, Partition: 0}); !ok || got.Next != 15 {
		t.Errorf("position %d (found %v); want 15", got.Next, ok)
	}
}

func TestNoTxnLeftOngoing(t *testing.T) { kafkatest.EachPair(t, testNoTxnLeftOngoing) }

// abortedTxns writes n transactions to partition 0 of topic and aborts
// them: for a read_committed consumer the partition holds n control
// records there.
func abortedTxns(t *testing.T, addr, topic string, n int) {
	t.Helper()
	ctx := context.Background()
	p := kafkatest.Producer(t, addr, kgo.TransactionalID(kafkatest.Unique(t, "aborter")))
	for i := 0; i < n; i++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, kafkatest.Record(topic, 0, 1000+i)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
	}
}

// After a transaction that held the progress group only was ended with a
// raw EndTxn (see TestNoTxnLeftOngoing), the group's producer has an
// epoch kgo does not know (transaction version 2 bumps it on every
// EndTxn): the group goes on with a new producer. A partition that was
// never copied starts with three aborted source transactions, then
// records; with MIRROR_BATCH_RECORDS=2 the group's first transaction
// takes two control records only and is aborted that way, the next ones
// copy the records. Every record is copied once, the position is at the
// source end, and no transaction is left Ongoing.
func testGroupGoesOnAfterEmptyAbort(t *testing.T, pair kafkatest.Pair) {
	src := kafkatest.Unique(t, "emptyabort")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	abortedTxns(t, pair.A, src, 3)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 5)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "emptyabort", sa+"->"+ta+".topics = "+src)
	m.Settings.Groups = 1
	m.Settings.BatchRecords = 2
	var logs kafkatest.SyncBuffer
	m.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	res := m.testRun(t)
	if !strings.Contains(logs.String(), "aborted a transaction holding only the progress group") {
		t.Fatalf("no transaction held the progress group only (%+v): the empty abort was not exercised", res.Detail)
	}
	if res.Records != 5 || len(res.Detail) != 1 || res.Detail[0].Status != UnitDone {
		t.Errorf("run: %d records, %+v; want the 5 copied and the partition done", res.Records, res.Detail)
	}
	if open := groupTxnsOngoing(t, m); len(open) > 0 {
		t.Errorf("after the run, transactions %v are Ongoing on the target; want none", open)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+src), 1, 5); err != nil {
		t.Error(err)
	}
	if got, ok := m.testPosition(t, lease.Unit{Topic: sa + "." + src, Partition: 0}); !ok || got.Next != 11 {
		t.Errorf("position %d (found %v); want 11, the source end", got.Next, ok)
	}
}

func TestGroupGoesOnAfterEmptyAbort(t *testing.T) {
	kafkatest.EachPair(t, testGroupGoesOnAfterEmptyAbort)
}

// Between the raw EndTxn that ends a transaction holding only the
// progress group and the new producer's InitProducerID, the group's id is
// not fenced: another invocation can take the group, copy and commit. The
// new producer then fences that invocation in turn, so the run must not
// go on from its own positions, which are behind: X starts the group and
// its producer is stale (as after the raw EndTxn), Y copies the
// partition's 10 records, then X goes on. X stops as fenced, and the
// target holds the records once.
func testTakenOverWhileStale(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "takenover")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 10)
	sa, ta := uniqueFlow()
	props := sa + "->" + ta + ".topics = " + src
	remote := lease.Unit{Topic: sa + "." + src, Partition: 0}
	x := flowMirror(t, pair, sa, ta, "x", props)
	x.Settings.Groups = 1
	p, a := x.testPlanSettled(t, 1)
	g := x.testGroupRun(t, a)
	ready, _, err := g.start(ctx, p, []lease.Unit{remote})
	if err != nil || len(ready) != 1 {
		t.Fatalf("x's start: %d lanes ready, err %v; want the partition", len(ready), err)
	}
	g.stale = true

	y := flowMirror(t, pair, sa, ta, "y", props)
	y.Settings.Groups = 1
	if res := y.testRun(t); res.Records != 10 {
		t.Fatalf("y copied %d records; want 10", res.Records)
	}

	g.copy(ctx, ready)
	if l := ready[0]; l.res.Status != UnitFenced || l.res.Records != 0 {
		t.Errorf("x's partition ended %q (%s) with %d records copied; want %q and none", l.res.Status, l.res.Error, l.res.Records, UnitFenced)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, remote.Topic), 1, 10); err != nil {
		t.Error(err)
	}
	if got, ok := x.testPosition(t, remote); !ok || got.Next != 10 {
		t.Errorf("position %d (found %v); want 10", got.Next, ok)
	}
}

func TestTakenOverWhileStale(t *testing.T) { kafkatest.EachPair(t, testTakenOverWhileStale) }

// The transaction left Ongoing, at the run's end: a group's first
// transaction adds the progress group and takes control records only (a
// never-copied partition starting with three aborted source transactions,
// MIRROR_BATCH_RECORDS=2), and the run's stop time comes before the next
// one, which would have committed the coordinator's open transaction.
// kfake answers the group's first AddOffsetsToTxn just after the stop
// time (a real broker cannot be made to), so the run ends right after that
// transaction is aborted. No transaction of the group may be Ongoing
// after the run; the next run copies the records once.
func TestNoTxnLeftOngoingAtRunEnd(t *testing.T) {
	const budget = 1500 * time.Millisecond
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "runend")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	abortedTxns(t, pair.A, src, 3)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 5)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "runend", sa+"->"+ta+".topics = "+src)
	m.Settings.Groups = 1
	m.Settings.BatchRecords = 2
	m.Settings.SafetyMargin = 3 * time.Second

	stopAt := time.Now().Add(budget)
	var delayed atomic.Bool
	b.ControlKey(int16(kmsg.AddOffsetsToTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.AddOffsetsToTxnRequest)
		if !strings.Contains(r.TransactionalID, ".~group.") || delayed.Swap(true) {
			return nil, nil, false
		}
		b.SleepControl(func() { time.Sleep(time.Until(stopAt) + 100*time.Millisecond) })
		return nil, nil, false
	})
	res, err := m.Run(ctx, stopAt)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, res)
	}
	if !delayed.Load() {
		t.Fatal("no AddOffsetsToTxn of the group reached the target: the path was not exercised")
	}
	if res.Records != 0 {
		t.Fatalf("the run copied %d records: it did not end after the first transaction, the test proves nothing", res.Records)
	}
	if open := groupTxnsOngoing(t, m); len(open) > 0 {
		t.Errorf("after the run, transactions %v are Ongoing on the target; want none", open)
	}
	m.testRun(t)
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+src), 1, 5); err != nil {
		t.Error(err)
	}
}
