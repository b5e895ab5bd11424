package mirror

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// The anchor ends its transaction with a raw EndTxn and then initialises
// a new producer for the group: between the two the group's id is not
// fenced, so another invocation can take the group, copy and commit, and
// the new producer then fences it in turn. The run must then not copy any
// lane of the group from the position it read before the anchor, not only
// the anchored lanes: those are behind what the other invocation
// committed. X starts a group of two partitions: partition 0 is reset
// past deleted records (an anchor), partition 1 has records to copy; Y
// runs while X's InitProducerID after the anchor is held (kfake), copies
// partition 1 and commits. X then copies: the target must hold partition
// 1's records once. kfake only: a real broker cannot hold one
// InitProducerID while it answers another invocation's.
func TestAnchorWindowTakenOver(t *testing.T) {
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "anchorwindow")
	kafkatest.CreateTopic(t, pair.A, src, 2, nil)
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, src, 2, 0, 10)
	sa, ta := uniqueFlow()
	props := sa + "->" + ta + ".topics = " + src
	remote := sa + "." + src
	first := flowMirror(t, pair, sa, ta, "first", props)
	first.Settings.Groups = 1
	if res := first.testRun(t); res.Records != 20 {
		t.Fatalf("first run copied %d records; want 20", res.Records)
	}

	// Partition 0: 10..14 deleted before they are copied (a reset, which
	// is anchored); partition 1: 10..14 to copy.
	kafkatest.ProduceSeq(t, prod, src, 2, 10, 15)
	deleteSourceRecords(t, first, src, 0, 15)

	x := flowMirror(t, pair, sa, ta, "x", props)
	x.Settings.Groups = 1
	x.Settings.ResetPolicy = config.ResetEarliest
	p, a := x.testPlanSettled(t, 1)
	g := x.testGroupRun(t, a)

	// X's second InitProducerID of the group (the one after its anchor)
	// waits until Y is done.
	held := make(chan struct{})
	yDone := make(chan struct{})
	var inits atomic.Int32
	b.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		if r, ok := req.(*kmsg.InitProducerIDRequest); !ok || r.TransactionalID == nil || *r.TransactionalID != g.txnID {
			return nil, nil, false
		}
		if inits.Add(1) == 2 {
			close(held)
			b.SleepControl(func() { <-yDone })
		}
		return nil, nil, false
	})

	type started struct {
		ready, left []*lane
		err         error
	}
	startDone := make(chan started, 1)
	go func() {
		ready, left, err := g.start(ctx, p, []lease.Unit{{Topic: remote, Partition: 0}, {Topic: remote, Partition: 1}})
		startDone <- started{ready, left, err}
	}()
	select {
	case <-held:
	case s := <-startDone:
		t.Fatalf("x's start ended without a second InitProducerID (%d ready, %d left, err %v): no anchor was made", len(s.ready), len(s.left), s.err)
	}
	y := flowMirror(t, pair, sa, ta, "y", props)
	y.Settings.Groups = 1
	res := y.testRun(t)
	close(yDone)
	if res.Records != 5 {
		t.Fatalf("y copied %d records; want partition 1's 10..14", res.Records)
	}
	s := <-startDone
	if s.err != nil {
		t.Fatalf("x's start: %v", s.err)
	}
	g.copy(ctx, s.ready)
	for _, l := range append(s.ready, s.left...) {
		t.Logf("x: partition %d %s (%s), %d records", l.u.Partition, l.res.Status, l.res.Error, l.res.Records)
	}

	var seqs []int64
	for _, r := range kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, remote))[1] {
		seqs = append(seqs, kafkatest.Seq(r))
	}
	if len(seqs) != 15 {
		t.Errorf("partition 1 on the target holds sequences %v; want 0..14 once each", seqs)
	}
	for i, s := range seqs {
		if s != int64(i) {
			t.Errorf("partition 1 on the target holds sequences %v; want 0..14 once each, in order", seqs)
			break
		}
	}
	if got, ok := x.testPosition(t, lease.Unit{Topic: remote, Partition: 1}); !ok || got.Next != 15 {
		t.Errorf("partition 1's position %d (found %v); want 15", got.Next, ok)
	}
}
