package kafka

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// ReadCommitted passes committed data records of the range only, in
// order: not aborted ones, not control records, nothing at or past To; fn
// stops it; a passed StopAt ends it with ErrStopped. Transactions are the
// broker's, so it runs on kfake and on the real pair.
func TestReadCommitted(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, p kafkatest.Pair) { testReadCommitted(t, p.A) })
}

func testReadCommitted(t *testing.T, addr string) {
	ctx := context.Background()
	topic := kafkatest.Unique(t, "read-committed")
	kafkatest.CreateTopic(t, addr, topic, 1, nil)
	prod := kafkatest.Producer(t, addr, kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	// Transactions of values 0-1 (committed), 2-3 (aborted), 4-5 (committed).
	for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort, kgo.TryCommit} {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := 2 * i; j < 2*i+2; j++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(j))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := prod.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	lsos, err := kafkatest.Admin(t, addr).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	lso, _ := lsos.Lookup(topic, 0)
	read := func(r Range, stopAfter int) ([]string, error) {
		var got []string
		err := ReadCommitted(ctx, []kgo.Opt{kgo.SeedBrokers(addr)}, r, func(rec *kgo.Record) bool {
			got = append(got, string(rec.Value))
			return len(got) == stopAfter
		})
		return got, err
	}
	for _, tc := range []struct {
		name      string
		r         Range
		stopAfter int
		want      string
	}{
		{"whole partition", Range{Topic: topic, To: lso.Offset}, 0, "0,1,4,5"},
		{"compacted", Range{Topic: topic, To: lso.Offset, Compacted: true}, 0, "0,1,4,5"},
		{"fn stops", Range{Topic: topic, To: lso.Offset}, 3, "0,1,4"},
		// Offsets: 0 1 (2: commit marker) 3 4 (5: abort marker) 6 7 (8: commit marker).
		{"to excludes", Range{Topic: topic, To: 7}, 0, "0,1,4"},
		{"from inside", Range{Topic: topic, From: 1, To: lso.Offset}, 0, "1,4,5"},
		{"empty range", Range{Topic: topic, From: 4, To: 4}, 0, ""},
	} {
		got, err := read(tc.r, tc.stopAfter)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s := join(got); s != tc.want {
			t.Errorf("%s: read %q, want %q", tc.name, s, tc.want)
		}
	}
	// A budget that has passed ends the read before the range's end.
	_, err = read(Range{Topic: topic, To: lso.Offset, StopAt: time.Now().Add(-time.Second)}, 0)
	if !errors.Is(err, ErrStopped) {
		t.Errorf("past StopAt: err %v, want ErrStopped", err)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
