package mirror

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// A commit of unknown outcome is resolved from the committed position, and
// only the position this unit wrote says its commit landed. Here another
// invocation took the unit (fenced this one) and committed a position at
// the same offset this one's lost commit would have: its metadata (commit
// time) differs, so this unit's commit had not landed and its records are
// not counted as copied by this invocation. Compared by offset alone, they
// were (res.Records 30 of another invocation's copy).
func TestResolveUnknownNeedsOurPosition(t *testing.T) {
	pair, _, _ := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "resolve")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 30)
	other := testMirror(t, pair, "other", "A->B.topics = "+src)
	if res := other.testRun(t); res.Records != 30 {
		t.Fatalf("the other invocation copied %d records; want 30", res.Records)
	}

	m := testMirror(t, pair, "this", "A->B.topics = "+src)
	u := &unit{Unit: lease.Unit{Topic: "A." + src, Partition: 0}, SourceTopic: src}
	txnID := names.UnitTransactionalID(m.Flow.Name(), src, 0)
	prod, err := m.newProducer(txnID)
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{m: m, u: u, txnID: txnID, prod: prod, log: slog.Default(), end: time.Now().Add(20 * time.Second),
		pos: Position{Next: 0, LastUpstream: -1, LastDownstream: -1}}
	defer func() { w.prod.Close() }()
	want := Position{Next: 30, LastUpstream: 29, LastDownstream: 29, Committed: time.Now().Add(-time.Hour)}
	err = w.resolveUnknown(context.Background(), errors.New("commit response lost"), want, 30, 300)
	if !errors.Is(err, errStopUnit) {
		t.Fatalf("resolve: %v; want the unit stopped", err)
	}
	if w.res.Records != 0 || w.res.Transactions != 0 {
		t.Fatalf("counted %d records in %d transactions as this invocation's; the position committed is the other invocation's", w.res.Records, w.res.Transactions)
	}
	if w.pos.Next != 0 {
		t.Fatalf("position moved to %d on another invocation's commit", w.pos.Next)
	}
}
