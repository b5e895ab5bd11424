package mirror

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
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
	prod, err := m.newProducer(m.groupTxnID(0))
	if err != nil {
		t.Fatal(err)
	}
	g := &groupRun{m: m, txnID: m.groupTxnID(0), prod: prod, log: slog.Default(), end: time.Now().Add(20 * time.Second)}
	defer func() { g.prod.Close() }()
	l := &lane{u: u, pos: Position{Next: 0, LastUpstream: -1, LastDownstream: -1}, log: slog.Default()}
	tx := &txn{g: g, lanes: map[*lane]*laneTxn{}}
	lt := tx.lane(l)
	lt.records, lt.bytes, tx.records, tx.bytes = 30, 300, 30, 300
	want := Position{Next: 30, LastUpstream: 29, LastDownstream: 29, Committed: time.Now().Add(-time.Hour)}
	err = g.resolveUnknown(context.Background(), errors.New("commit response lost"), tx, map[*lane]Position{l: want})
	if !errors.Is(err, errStopUnit) {
		t.Fatalf("resolve: %v; want the group stopped", err)
	}
	if l.res.Records != 0 || l.res.Transactions != 0 {
		t.Fatalf("counted %d records in %d transactions as this invocation's; the position committed is the other invocation's", l.res.Records, l.res.Transactions)
	}
	if l.pos.Next != 0 {
		t.Fatalf("position moved to %d on another invocation's commit", l.pos.Next)
	}
}
