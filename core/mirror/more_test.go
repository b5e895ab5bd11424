package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
)

// more decides whether an open transaction takes more fetched records:
// only while the source is known to hold more, within the batch limits,
// and within a third of the transaction timeout.
func TestMoreEndsTransactions(t *testing.T) {
	recs := func(from, n int64) []*kgo.Record {
		out := make([]*kgo.Record, n)
		for i := range out {
			out[i] = &kgo.Record{Offset: from + int64(i), Value: make([]byte, 100)}
		}
		return out
	}
	newWorker := func(end int64) *worker {
		w := &worker{
			m: &Mirror{Settings: config.Settings{BatchRecords: 1000, BatchBytes: 1 << 20, TransactionTimeout: 30 * time.Second}},
			u: &unit{End: end}, in: make(chan []*kgo.Record, 1), inflight: newBudget(1 << 20),
		}
		w.in <- recs(10, 5)
		return w
	}
	stopAt := time.Now().Add(time.Minute)
	for _, c := range []struct {
		name  string
		end   int64
		age   time.Duration // how long the transaction has been open
		taken int           // records the transaction has taken
		bytes int64         // and their bytes
		want  int           // records more returns
	}{
		{"source holds more", 100, 0, 10, 0, 5},
		{"planned end reached", 10, 0, 10, 0, 0},
		{"record limit reached", 100, 0, 1000, 0, 0},
		{"record limit nearly reached", 100, 0, 998, 0, 2},
		{"byte limit reached", 100, 0, 10, 1 << 20, 0},
		{"open a third of the transaction timeout", 100, 10*time.Second + time.Millisecond, 10, 0, 0},
	} {
		w := newWorker(c.end)
		tx := &txn{w: w, began: time.Now().Add(-c.age), next: 10, taken: c.taken, bytes: c.bytes}
		if got := w.more(tx, stopAt); len(got) != c.want {
			t.Errorf("%s: more took %d records, want %d", c.name, len(got), c.want)
		}
	}
	// Past stopAt nothing is taken either.
	w := newWorker(100)
	if got := w.more(&txn{w: w, began: time.Now(), next: 10}, time.Now().Add(-time.Millisecond)); got != nil {
		t.Errorf("past stopAt: more took %d records", len(got))
	}
	// Nothing fetched while the source holds more: it waits, then commits.
	w = newWorker(100)
	<-w.in
	began := time.Now()
	if got := w.more(&txn{w: w, began: time.Now(), next: 10}, stopAt); got != nil || time.Since(began) < moreWait {
		t.Errorf("nothing fetched: more took %d records after %v, want none after %v", len(got), time.Since(began), moreWait)
	}
}
