package mirror

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A chunk that starts below what the open transaction has taken for its
// lane (the consumer's fetch position reset under it) is never produced:
// the transaction fails with ErrSourceRewound, so it is aborted and
// nothing is copied twice. Before, send produced whatever it was given.
func TestSendRefusesRewoundChunk(t *testing.T) {
	prod, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	g := &groupRun{prod: prod, inflight: newBudget(1 << 20), end: time.Now().Add(time.Second)}
	l := &lane{u: &unit{}}
	chunk := []*kgo.Record{{Topic: "t", Offset: 15, Value: []byte("x")}, {Topic: "t", Offset: 16, Value: []byte("y")}}
	g.absorb(chunk2(l, chunk))
	tx := &txn{g: g, began: time.Now(), lanes: map[*lane]*laneTxn{}}
	tx.lane(l).next = 20
	tx.send(context.Background(), l, chunk)
	if err := tx.wait(context.Background()); !errors.Is(err, ErrSourceRewound) {
		t.Fatalf("send of offsets 15-16 after the transaction took up to 19: %v, want ErrSourceRewound", err)
	}
	if tx.records != 0 || tx.lanes[l].next != 20 {
		t.Errorf("the rewound chunk counted: %d records, next %d; want 0, 20", tx.records, tx.lanes[l].next)
	}
	if n := g.held.Load(); n != 0 {
		t.Errorf("the rewound chunk's %d bytes still held against the fetch budget", n)
	}
}

func chunk2(l *lane, recs []*kgo.Record) chunk { return chunk{l: l, recs: recs} }
