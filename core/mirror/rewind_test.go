package mirror

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A chunk that starts below what the open transaction has taken (the
// consumer's fetch position reset under it) is never produced: the
// transaction fails with ErrSourceRewound, so it is aborted and nothing is
// copied twice. Before, send produced whatever it was given.
func TestSendRefusesRewoundChunk(t *testing.T) {
	prod, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	w := &worker{u: &unit{}, prod: prod, inflight: newBudget(1 << 20), end: time.Now().Add(time.Second)}
	chunk := []*kgo.Record{{Topic: "t", Offset: 15, Value: []byte("x")}, {Topic: "t", Offset: 16, Value: []byte("y")}}
	w.hold(chunk)
	tx := &txn{w: w, next: 20, began: time.Now()}
	tx.send(context.Background(), chunk)
	if err := tx.wait(context.Background()); !errors.Is(err, ErrSourceRewound) {
		t.Fatalf("send of offsets 15-16 after the transaction took up to 19: %v, want ErrSourceRewound", err)
	}
	if tx.records != 0 || tx.next != 20 {
		t.Errorf("the rewound chunk counted: %d records, next %d; want 0, 20", tx.records, tx.next)
	}
	if n := w.held.Load(); n != 0 {
		t.Errorf("the rewound chunk's %d bytes still held against the fetch budget", n)
	}
}
