package mirror

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A group's new producer after the empty abort's raw EndTxn (reinit) checks
// the assignment again, as at the group's start. When a changer reassigned
// the work groups meanwhile, the group stops (its partitions
// "reassigned"), and so must the run, as when a start finds it: every
// other group id belongs to the new assignment, and starting one fences
// whoever copies it under that assignment. X copies a flow of two
// partitions in two work groups; each partition begins with aborted
// source transactions, so the first group's first transaction
// (MIRROR_BATCH_RECORDS=2) holds two control records only and is ended by
// the raw EndTxn. Its new producer's InitProducerID is held (kfake) while
// Z changes the assignment to 3 groups. X must then not start the other
// group: it sends no InitProducerID for it, and reports only the first
// group's partition. kfake only: a real broker cannot hold one
// InitProducerID while it answers the changer's.
func TestReinitReassignedStopsRun(t *testing.T) {
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "reinitreassigned")
	kafkatest.CreateTopic(t, pair.A, src, 2, nil)
	aborter := kafkatest.Producer(t, pair.A, kgo.TransactionalID(kafkatest.Unique(t, "aborter")))
	for i := 0; i < 3; i++ {
		if err := aborter.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 2; p++ {
			if err := aborter.ProduceSync(ctx, kafkatest.Record(src, p, 1000+i)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := aborter.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 2, 0, 5)
	sa, ta := uniqueFlow()
	props := sa + "->" + ta + ".topics = " + src
	x := flowMirror(t, pair, sa, ta, "x", props)
	x.Settings.Groups = 2
	x.Settings.BatchRecords = 2
	p, err := makePlan(ctx, x.Flow, x.SourceAdmin, x.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// The two groups' assignment is settled before the InitProducerIDs are
	// counted (its fence of the group ids is not what this test holds).
	if _, err := x.settle(ctx, 2, p.OffsetSyncsID, nil); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		inits    = map[string]int{}
		heldID   string
		released atomic.Bool
		after    = map[string]int{} // InitProducerIDs once the held one is released
	)
	held := make(chan struct{})
	changed := make(chan struct{})
	b.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if r.TransactionalID == nil {
			return nil, nil, false
		}
		id := *r.TransactionalID
		mu.Lock()
		if released.Load() {
			after[id]++
		}
		inits[id]++
		hold := heldID == "" && inits[id] == 2
		if hold {
			heldID = id
		}
		mu.Unlock()
		if hold {
			close(held)
			b.SleepControl(func() { <-changed })
			released.Store(true)
		}
		return nil, nil, false
	})

	type ran struct {
		res *Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := x.Run(ctx, time.Now().Add(20*time.Second))
		done <- ran{res, err}
	}()
	select {
	case <-held:
	case r := <-done:
		t.Fatalf("x's run ended without a group's second InitProducerID (%+v, %v): no empty abort was made", r.res, r.err)
	}
	z := flowMirror(t, pair, sa, ta, "z", props)
	if _, err := z.settle(ctx, 3, p.OffsetSyncsID, nil); err != nil {
		t.Fatal(err)
	}
	close(changed)
	r := <-done
	t.Logf("x: %+v, err %v", r.res, r.err)
	if r.err != nil {
		t.Fatalf("x's run: %v", r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range after {
		if id != heldID && id != x.groupTxnID(0) && id != x.groupTxnID(1) {
			continue
		}
		if id != heldID {
			t.Errorf("after the reassignment x sent %d InitProducerID of %s: it started another group under an assignment that was no longer current", n, id)
		}
	}
	for _, d := range r.res.Detail {
		if d.Status != UnitReassigned {
			t.Errorf("%s/%d ended %q (%s); want %q", d.Topic, d.Partition, d.Status, d.Error, UnitReassigned)
		}
	}
	if len(r.res.Detail) != 1 {
		t.Errorf("x reported %d partitions; want only the one of the group whose producer found the reassignment", len(r.res.Detail))
	}
}
