package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
)

// more decides whether an open transaction takes more fetched records:
// only while some lane's source is known to hold more, within the batch
// limits, and within a third of the transaction timeout.
func TestMoreEndsTransactions(t *testing.T) {
	recs := func(from, n int64) []*kgo.Record {
		out := make([]*kgo.Record, n)
		for i := range out {
			out[i] = &kgo.Record{Offset: from + int64(i), Value: make([]byte, 100)}
		}
		return out
	}
	newGroup := func(end int64, stopAt time.Time) (*groupRun, *lane) {
		l := &lane{u: &unit{End: end}, pos: Position{Next: 10}}
		g := &groupRun{
			m:     &Mirror{Settings: config.Settings{BatchRecords: 1000, BatchBytes: 1 << 20, TransactionTimeout: 30 * time.Second}},
			lanes: []*lane{l}, in: make(chan chunk, 1), inflight: newBudget(1 << 20), stopAt: stopAt,
		}
		g.in <- chunk{l: l, recs: recs(10, 5)}
		return g, l
	}
	newTxn := func(g *groupRun, l *lane, age time.Duration, taken int, bytes int64) *txn {
		t := &txn{g: g, began: time.Now().Add(-age), taken: taken, bytes: bytes, lanes: map[*lane]*laneTxn{}}
		t.lane(l)
		return t
	}
	stopAt := time.Now().Add(time.Minute)
	for _, c := range []struct {
		name  string
		end   int64
		age   time.Duration // how long the transaction has been open
		taken int           // records the transaction has taken
		bytes int64         // and their bytes
		want  int           // records more brings
	}{
		{"source holds more", 100, 0, 10, 0, 5},
		{"planned end reached", 10, 0, 10, 0, 0},
		{"record limit reached", 100, 0, 1000, 0, 0},
		{"byte limit reached", 100, 0, 10, 1 << 20, 0},
		{"open a third of the transaction timeout", 100, 10*time.Second + time.Millisecond, 10, 0, 0},
	} {
		g, l := newGroup(c.end, stopAt)
		tx := newTxn(g, l, c.age, c.taken, c.bytes)
		more := g.more(tx)
		if got := len(l.rest); more != (c.want > 0) || got != c.want {
			t.Errorf("%s: more = %v with %d records held, want %d", c.name, more, got, c.want)
		}
	}
	// Past the stop time nothing is taken either.
	g, l := newGroup(100, time.Now().Add(-time.Millisecond))
	if g.more(newTxn(g, l, 0, 10, 0)) {
		t.Errorf("past the stop time: more took %d records", len(l.rest))
	}
	// Nothing fetched while the source holds more: it waits, then commits.
	g, l = newGroup(100, stopAt)
	<-g.in
	began := time.Now()
	if more := g.more(newTxn(g, l, 0, 10, 0)); more || time.Since(began) < moreWait {
		t.Errorf("nothing fetched: more = %v after %v, want false after %v", more, time.Since(began), moreWait)
	}
}
