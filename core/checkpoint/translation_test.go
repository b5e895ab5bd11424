package checkpoint_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// produceMixed writes n rounds to partition 0 of topic: a run of plain
// records, a committed source transaction (its records and a marker) and
// an aborted one (aborted records and a marker), so the source has every
// kind of offset a group can commit.
func produceMixed(t *testing.T, addr, topic string, rounds int) {
	t.Helper()
	ctx := context.Background()
	plain := kafkatest.Producer(t, addr)
	txn := kafkatest.Producer(t, addr, kgo.TransactionalID(topic+"-txn"))
	seq := 0
	next := func(n int) []*kgo.Record {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, kafkatest.Record(topic, 0, seq))
			seq++
		}
		return recs
	}
	for r := 0; r < rounds; r++ {
		if err := plain.ProduceSync(ctx, next(5+r%4)...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, commit := range []bool{true, false} {
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := txn.ProduceSync(ctx, next(2+r%3)...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Exact translation (issue 16): for a group at any source offset u — in a
// run of records, on a source transaction marker, on an aborted record,
// at one of the mirror's own transaction boundaries (small transactions
// here), at the log end, and after the source's log start moved — the
// checkpoint is the target offset of the copy of the first committed
// source record at or after u: a consumer resuming there re-reads nothing
// and skips nothing. Every offset of the partition is checked, one group
// each.
func testExactTranslation(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "exact")
	remote := src + "." + topic
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	prefix := kafkatest.Unique(t, "g")
	lines := []string{
		src + "->" + tgt + ".topics = " + topic,
		src + "->" + tgt + ".groups = " + prefix + ".*",
		"sync.group.offsets.enabled = true",
	}
	a := aliasedAppWith(t, pair, src, tgt, config.Settings{BatchRecords: 7}, lines...)

	// Copied in two invocations of transactions of at most 7 records; the
	// source's log start moves between them.
	produceMixed(t, pair.A, topic, 6)
	reconcileAndMirror(t, a)
	before := kafkatest.ReadAll(t, pair.A, topic)
	ends, err := kafkatest.Admin(t, pair.A).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	mid, _ := ends.Lookup(topic, 0)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: mid.Offset / 2})
	if resp, err := kafkatest.Admin(t, pair.A).DeleteRecords(ctx, del); err != nil || resp.Error() != nil {
		t.Fatalf("move the source's log start: %v %v", err, resp.Error())
	}
	produceMixed(t, pair.A, topic, 4)
	if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}

	// The committed source records, in order, and their copies.
	var ups []int64
	for _, r := range before {
		ups = append(ups, r.Offset)
	}
	for _, r := range kafkatest.ReadAll(t, pair.A, topic) {
		if r.Offset > ups[len(ups)-1] {
			ups = append(ups, r.Offset)
		}
	}
	copies := kafkatest.ReadAll(t, pair.B, remote)
	if len(copies) != len(ups) {
		t.Fatalf("%d records copied, the source committed %d", len(copies), len(ups))
	}
	ends, err = kafkatest.Admin(t, pair.A).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)

	// One group at every source offset, from 0 to the log end.
	group := func(u int64) string { return fmt.Sprintf("%s.%04d", prefix, u) }
	for u := int64(0); u <= end.Offset; u++ {
		commitGroup(t, pair.A, group(u), map[string]map[int32]int64{topic: {0: u}})
	}
	sum := runCheckpoint(t, a)
	if sum.Flows[0].Untranslatable != 0 {
		t.Fatalf("untranslatable group offsets: %+v", sum.Flows[0])
	}
	cps := map[string]offsetsync.Checkpoint{}
	for _, cp := range checkpoints(t, pair.B, src) {
		cps[cp.Group] = cp
	}
	targetEnd, err := kafkatest.Admin(t, pair.B).ListEndOffsets(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	tend, _ := targetEnd.Lookup(remote, 0)
	reread, skipped, j := 0, 0, 0
	for u := int64(0); u <= end.Offset; u++ {
		for j < len(ups) && ups[j] < u {
			j++
		}
		cp, ok := cps[group(u)]
		if !ok {
			t.Fatalf("group at %d: no checkpoint", u)
		}
		if cp.Downstream > tend.Offset {
			t.Errorf("group at %d: checkpoint %d past the remote end %d", u, cp.Downstream, tend.Offset)
		}
		// What a consumer resuming at the checkpoint reads first.
		k := 0
		for k < len(copies) && copies[k].Offset < cp.Downstream {
			k++
		}
		reread += max(0, j-k)
		skipped += max(0, k-j)
		if j < len(ups) && cp.Downstream != copies[j].Offset {
			t.Errorf("group at %d: checkpoint %d, the copy of source record %d is at %d", u, cp.Downstream, ups[j], copies[j].Offset)
		}
	}
	t.Logf("%d group offsets over %d source offsets (%d committed records, log start moved to %d): %d re-read, %d skipped",
		end.Offset+1, end.Offset, len(ups), mid.Offset/2, reread, skipped)
	if reread != 0 || skipped != 0 {
		t.Errorf("%d records re-read and %d skipped in all, want 0 and 0", reread, skipped)
	}

	// The failover command agrees, and says it re-reads nothing (at the
	// log end too: the mirror's position shows the offsets after the last
	// copied record are markers and aborted records, not records to come).
	for _, u := range []int64{0, ups[3] + 1, mid.Offset / 2, ups[len(ups)-1], end.Offset} {
		plan, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), group(u), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Partitions) != 1 || plan.Partitions[0].Offset != cps[group(u)].Downstream || plan.Partitions[0].ReReadMax != 0 {
			t.Errorf("failover plan for the group at %d: %+v, want offset %d re-reading 0", u, plan.Partitions, cps[group(u)].Downstream)
		}
	}
}

func TestExactTranslation(t *testing.T) { kafkatest.EachPair(t, testExactTranslation) }

// aliasedAppWith is aliasedApp with settings of the test's own.
func aliasedAppWith(t *testing.T, pair kafkatest.Pair, src, tgt string, s config.Settings, extra ...string) *invocation.Invoker {
	t.Helper()
	b := aliasedApp(t, pair, src, tgt, extra...)
	s.PropertiesFile = b.Settings.PropertiesFile
	return newAppFrom(t, s)
}

// A forged offset sync (issue 18 item 7): one produced outside a
// transaction to the offset-syncs topic of a flow mirrorless copies moves
// no group, and no translation, checkpoint, group offset sync or failover
// goes past the remote partition's end, whatever the internal topics hold.
func testForgedSyncMovesNothing(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "forged")
	remote := src + "." + topic
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
	g := kafkatest.Unique(t, "victim")
	a := aliasedApp(t, pair, src, tgt,
		src+"->"+tgt+".topics = "+topic,
		src+"->"+tgt+".groups = "+g,
		"sync.group.offsets.enabled = true")
	reconcileAndMirror(t, a)
	copies := kafkatest.ReadAll(t, pair.B, remote)
	if len(copies) != 50 {
		t.Fatalf("%d records copied, want 50", len(copies))
	}
	commitGroup(t, pair.A, g, map[string]map[int32]int64{topic: {0: 20}})
	runCheckpoint(t, a)

	// Forged syncs, outside any transaction: one that would make the
	// group at 25 skip 20 records, one "rewind" that would wipe the
	// history, one past the end.
	plain := kafkatest.Producer(t, pair.B)
	for _, s := range []offsetsync.OffsetSync{
		{Topic: topic, Partition: 0, Upstream: 20, Downstream: 45},
		{Topic: topic, Partition: 0, Upstream: 5, Downstream: 30},
		{Topic: topic, Partition: 0, Upstream: 22, Downstream: 1_000_000},
	} {
		if err := plain.ProduceSync(ctx, &kgo.Record{Topic: a.Flows[0].OffsetSyncsTopic(), Partition: 0, Key: s.Key(), Value: s.Value()}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commitGroup(t, pair.A, g, map[string]map[int32]int64{topic: {0: 25}})
	sum := runCheckpoint(t, a)
	if sum.Flows[0].Skipped != 3 {
		t.Errorf("forged syncs not refused: %+v", sum.Flows[0])
	}
	cp := lastCheckpoints(checkpoints(t, pair.B, src), g, remote)[0]
	if cp.Upstream != 25 || cp.Downstream != copies[25].Offset {
		t.Errorf("checkpoint after forged syncs: %+v, want upstream 25 at %d", cp, copies[25].Offset)
	}
	if got := groupOffsets(t, pair.B, g)[remote][0]; got != copies[25].Offset {
		t.Errorf("target group at %d after forged syncs, want %d", got, copies[25].Offset)
	}

	// A forged checkpoint outside a transaction is ignored by failover;
	// one inside a transaction past the end is bounded by the end.
	ends, err := kafkatest.Admin(t, pair.B).ListEndOffsets(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(remote, 0)
	forged := offsetsync.Checkpoint{Group: g, Topic: remote, Partition: 0, Upstream: 25, Downstream: 1_000_000}
	cpTopic := src + ".checkpoints.internal"
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: cpTopic, Key: forged.Key(), Value: forged.Value()}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	plan, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), g, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr := plan.Partitions[0]; tr.Offset != copies[25].Offset {
		t.Errorf("failover after a forged plain checkpoint: %+v, want offset %d", tr, copies[25].Offset)
	}
	txn := kafkatest.Producer(t, pair.B, kgo.TransactionalID(kafkatest.Unique(t, "forger")))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Topic: cpTopic, Key: forged.Key(), Value: forged.Value()}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	plan, err = invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), g, true)
	if err != nil {
		t.Fatal(err)
	}
	if tr := plan.Partitions[0]; tr.Offset != end.Offset {
		t.Errorf("failover of a checkpoint past the end: %+v, want the end %d", tr, end.Offset)
	}
	if got := groupOffsets(t, pair.B, g)[remote][0]; got > end.Offset {
		t.Errorf("failover -apply committed %d, past the remote end %d", got, end.Offset)
	}
}

func TestForgedSyncMovesNothing(t *testing.T) { kafkatest.EachPair(t, testForgedSyncMovesNothing) }

// Group lag for failover decisions (issue 16 item 5): per group, the
// records between its translated offsets and the remote ends, and the age
// of the oldest record it has not consumed.
func testGroupLag(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "lag")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := 0; i < 40; i++ {
		r := kafkatest.Record(topic, 0, i)
		r.Timestamp = base.Add(time.Duration(i) * time.Second)
		recs = append(recs, r)
	}
	if err := kafkatest.Producer(t, pair.A).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mid, end := kafkatest.Unique(t, "mid"), kafkatest.Unique(t, "end")
	a := aliasedAppWith(t, pair, src, tgt, config.Settings{BatchRecords: 15},
		src+"->"+tgt+".topics = "+topic, src+"->"+tgt+".groups = "+mid+","+end)
	reconcileAndMirror(t, a)
	commitGroup(t, pair.A, mid, map[string]map[int32]int64{topic: {0: 10}})
	commitGroup(t, pair.A, end, map[string]map[int32]int64{topic: {0: 40}})
	before := time.Now()
	sum := runCheckpoint(t, a)
	after := time.Now()
	lags := map[string]checkpoint.GroupLag{}
	for _, l := range sum.Flows[0].GroupLags {
		lags[l.Group] = l
	}
	// 30 records left, plus the target's commit markers between them (at
	// most one per transaction of 15).
	if l := lags[mid]; l.Records < 30 || l.Records > 33 {
		t.Errorf("group at 10: %d records behind, want 30 plus at most 3 markers", l.Records)
	}
	ts10 := base.Add(10 * time.Second)
	if l := lags[mid]; l.Seconds < before.Sub(ts10).Seconds() || l.Seconds > after.Sub(ts10).Seconds() {
		t.Errorf("group at 10: %.3f s behind, want the age of record 10 (%.3f..%.3f)", l.Seconds, before.Sub(ts10).Seconds(), after.Sub(ts10).Seconds())
	}
	if l, ok := lags[end]; !ok || l.Records != 0 || l.Seconds != 0 {
		t.Errorf("group at the end: %+v, want 0 records and 0 s behind", l)
	}
}

func TestGroupLag(t *testing.T) { kafkatest.EachPair(t, testGroupLag) }
