package mirror

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
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

// A source fetch that goes back under a transaction (the consumer hands
// over a record below what the lane has taken) aborts the transaction, and
// the group starts a new consumer from the committed positions, at most
// maxRewinds times: the run then ends with every partition done, instead
// of failing the group or going round until its stop time. kgo itself
// never goes back without ErrDataLoss (which stops the partition, see
// poll), so the fault is a kgo hook in the source options that takes ten
// from the offset of the first record of partition 0 a consumer hands
// over: on the first consumer only (once), or on every one (always,
// where the group gives up after maxRewinds restarts).
func TestRewoundFetchRestarts(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, pair kafkatest.Pair) {
		for _, always := range []bool{false, true} {
			name := map[bool]string{false: "once", true: "always"}[always]
			t.Run(name, func(t *testing.T) {
				const n = 50
				src := kafkatest.Unique(t, "rewind")
				kafkatest.CreateTopic(t, pair.A, src, 2, nil)
				prod := kafkatest.Producer(t, pair.A)
				sa, ta := uniqueFlow()
				props := sa + "->" + ta + ".topics = " + src
				// A first run commits 0..49, so the next consumers start at
				// 50 and the hook's record comes out below it.
				kafkatest.ProduceSeq(t, prod, src, 2, 0, n)
				before := flowMirror(t, pair, sa, ta, "rewind-before", props)
				before.Settings.Groups = 1
				before.testRun(t)
				kafkatest.ProduceSeq(t, prod, src, 2, n, 2*n)

				m := flowMirror(t, pair, sa, ta, "rewind", props)
				m.Settings.Groups = 1
				h := &rewindHook{topic: src, always: always}
				m.SourceOpts = append(m.SourceOpts, kgo.WithHooks(h))
				var logs kafkatest.SyncBuffer
				m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				start := time.Now()
				stopAt := start.Add(15 * time.Second)
				res, err := m.Run(context.Background(), stopAt)
				rewound := h.count()
				restarts := strings.Count(logs.String(), "source fetch went back; transaction aborted, resuming from the committed positions")
				t.Logf("run in %v: %v; %d records moved back by the hook, %d restarts", time.Since(start).Round(time.Millisecond), err, rewound, restarts)
				for _, d := range res.Detail {
					t.Logf("%s/%d: %s, %d..%d, %d records %s", d.Topic, d.Partition, d.Status, d.From, d.To, d.Records, d.Error)
				}
				if len(res.Detail) != 2 {
					t.Fatalf("%d partitions in the result, want 2", len(res.Detail))
				}
				if always {
					// Every consumer goes back: after maxRewinds restarts
					// the group stops with the error, long before its stop
					// time, instead of going round until then.
					if restarts != maxRewinds {
						t.Errorf("%d consumer restarts; want %d", restarts, maxRewinds)
					}
					if !errors.Is(err, ErrUnitsFailed) || !strings.Contains(err.Error(), ErrSourceRewound.Error()) {
						t.Errorf("run: %v; want the partitions failed naming %q", err, ErrSourceRewound)
					}
					if time.Now().After(stopAt) {
						t.Errorf("the run ended after its stop time: the group went round until then")
					}
				} else {
					if rewound != 1 || restarts != 1 {
						t.Errorf("%d records moved back, %d restarts; want 1 and 1", rewound, restarts)
					}
					if err != nil {
						t.Errorf("run: %v; want it to go on after the rewound fetch", err)
					}
					for _, d := range res.Detail {
						if d.Status != UnitDone || d.From != n || d.To != 2*n || d.Records != n {
							t.Errorf("%s/%d: %s (%s), %d records %d..%d; want done with %d..%d", d.Topic, d.Partition, d.Status, d.Error, d.Records, d.From, d.To, n, 2*n)
						}
					}
				}
				// Whatever was aborted, nothing is copied twice; and once the
				// fault is gone, the next run copies what is left.
				flowMirror(t, pair, sa, ta, "rewind-after", props).testRun(t)
				if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+src), 2, 2*n); err != nil {
					t.Error(err)
				}
			})
		}
	})
}

// rewindHook makes the first record of the topic's partition 0 that a
// source consumer buffers (the first consumer's only, unless always) come
// out ten offsets lower, as if the consumer had gone back.
type rewindHook struct {
	topic  string
	always bool

	mu        sync.Mutex
	consumers int
	armed     bool
	rewound   int
}

func (h *rewindHook) OnNewClient(*kgo.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.consumers++
	h.armed = h.always || h.consumers == 1
}

func (h *rewindHook) OnFetchRecordBuffered(r *kgo.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.armed && r.Topic == h.topic && r.Partition == 0 {
		h.armed = false
		h.rewound++
		r.Offset -= 10
	}
}

// count is how many consumers the hook made go back.
func (h *rewindHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rewound
}
