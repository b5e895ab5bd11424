package mirror

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/names"
)

// Two changers of the assignment interleaved: x commits its pending entry
// (K=2), and before x's second InitProducerID of the assign id (the
// producer that fences the groups and writes "ready") y makes a whole
// change of its own to K=5. x had sized its fence from what it read
// before y's change (group ids 0 and 1), so y's writers of groups 2 to 4
// stayed unfenced, and x then wrote "ready" over y's entry: the
// generation went back, y's writers found it changed (in CI eight
// concurrent invocations of TestFanOutOvershoot all ended that way and
// copied nothing), and y's writers of groups x never fenced could copy
// next to x's writers of the same partitions. x now re-reads after that
// InitProducerID and goes on only over its own pending entry.
func TestAssignmentChangeOvertaken(t *testing.T) {
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	src := kafkatest.Unique(t, "overtaken")
	kafkatest.CreateTopic(t, pair.A, src, 4, nil)
	sa, ta := uniqueFlow()
	topics := sa + "->" + ta + ".topics = " + src
	x := flowMirror(t, pair, sa, ta, "x", topics)
	y := flowMirror(t, pair, sa, ta, "y", topics)
	p, first := x.testPlanSettled(t, 1)

	assignID := names.AssignTransactionalID(x.Flow.Name())
	var inits atomic.Int32
	var yGot Assignment
	var yErr error
	b.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if r.TransactionalID == nil || *r.TransactionalID != assignID || inits.Add(1) != 2 {
			return nil, nil, false
		}
		// x's second: y changes the assignment while it is held.
		b.SleepControl(func() { yGot, yErr = y.settle(ctx, 5, p.OffsetSyncsID, nil) })
		return nil, nil, false
	})
	xGot, xErr := x.settle(ctx, 2, p.OffsetSyncsID, nil)
	if yErr != nil || yGot.Groups != 5 || !yGot.Ready {
		t.Fatalf("y's change inside x's (%d InitProducerIDs of the assign id seen): %+v, err %v; want 5 groups ready", inits.Load(), yGot, yErr)
	}
	cur, ok, err := x.readAssignment(ctx)
	if err != nil || !ok {
		t.Fatalf("read: %+v, found %v, err %v", cur, ok, err)
	}
	t.Logf("first %+v; y wrote %+v; x's settle returned %+v, err %v; now %+v", first, yGot, xGot, xErr, cur)
	if !cur.same(yGot) || !cur.Ready || cur.Used < 5 {
		t.Errorf("after both changes the assignment is %+v; want y's, the newer (%+v): x wrote over it, having fenced only %d of the %d group ids y's writers may hold", cur, yGot, 2, yGot.Used)
	}
	if xErr == nil && !xGot.same(yGot) {
		t.Errorf("x copies under %+v; want y's %+v or errReassigned", xGot, yGot)
	}
	if xErr != nil && !errors.Is(xErr, errReassigned) {
		t.Errorf("x's settle: %v; want y's assignment or errReassigned", xErr)
	}
}
