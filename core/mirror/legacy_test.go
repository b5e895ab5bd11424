package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// A writer of the version before work groups (its transactional id is the
// partition's) has a transaction open with the next records and their
// position when this version writes its first assignment: the first
// assignment fences the per-partition ids of every partition with a
// position, so the old writer's commit is refused and the records are
// copied once, by the new version.
func testLegacyWriterFenced(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "legacy")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 20)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "new", sa+"->"+ta+".topics = "+src)
	remote := lease.Unit{Topic: sa + "." + src, Partition: 0}
	// The old version copied 0..9 (its position is all that matters here).
	m.stagePosition(t, remote, Position{Next: 10, LastUpstream: -1, LastDownstream: -1, Committed: time.Now()})

	// It has 10..19 and the position 20 in a transaction, not yet committed.
	txnID := names.UnitTransactionalID(m.Flow.Name(), src, 0)
	old, err := m.initProducer(ctx, txnID)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 10; i < 20; i++ {
		r := kafkatest.Record(src, 0, i)
		r.Topic = remote.Topic
		recs = append(recs, r)
	}
	if err := old.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	group := ProgressGroup(m.Flow)
	if err := addProgressGroup(ctx, old, txnID, group); err != nil {
		t.Fatal(err)
	}
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u := p.find(remote)
	pos := Position{Next: 20, LastUpstream: 19, LastDownstream: 9, SourceID: u.SourceID, Committed: time.Now()}
	if err := kafka.TxnOffsetCommit(ctx, old, txnID, group, (&lane{u: u}).offset(pos)); err != nil {
		t.Fatal(err)
	}

	// This version's first run writes the first assignment and copies.
	if res := m.testRun(t); res.Records != 10 {
		t.Fatalf("the first run copied %d records, want 10..19", res.Records)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.Commit(cctx, old); !kafka.IsFenced(err) {
		t.Errorf("the old version's commit: %v; want it fenced", err)
	}
	seen := map[int64]int{}
	for _, r := range kafkatest.ReadAll(t, pair.B, remote.Topic) {
		seen[kafkatest.Seq(r)]++
	}
	for i := int64(10); i < 20; i++ {
		if seen[i] != 1 {
			t.Errorf("record %d on the target %d times, want once", i, seen[i])
		}
	}
	if got, ok := m.testPosition(t, remote); !ok || got.Next != 20 {
		t.Errorf("position %d (found %v), want 20", got.Next, ok)
	}
}

func TestLegacyWriterFenced(t *testing.T) { kafkatest.EachPair(t, testLegacyWriterFenced) }
