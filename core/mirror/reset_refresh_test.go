package mirror

import (
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// MIRROR_PROGRESS_REFRESH re-commits an idle partition's position before
// the broker's offsets.retention.minutes expires it. A position with
// nothing copied since it was set (a reset by the reset policy, committed
// at once as an anchor since ef06f42, with up=-1) was never refreshed:
// refreshDue left it out (a refresh re-emits the last offset sync, and it
// has none), so an idle partition's reset position expired, and the next
// run, finding the remote partition's old records without progress,
// stopped it as foreign records. Such a position is refreshed as it was
// set, by an anchor: after the reset, a run with the refresh due commits
// the same position again, later, and reports no reset.
func testResetPositionRefreshed(t *testing.T, pair kafkatest.Pair) {
	// 10..14 are deleted before they are copied: the reset moves the
	// position to 15, with nothing after it.
	rc := newResetCase(t, pair, "resetrefresh")
	m, u := rc.m, rc.u
	if res := m.testRun(t); res.Resets != 1 {
		t.Fatalf("reset run: %+v; want the partition reset", res.Detail)
	}
	reset, ok := m.testPosition(t, u)
	if !ok || reset.Next != 15 || reset.LastUpstream != -1 {
		t.Fatalf("position after the reset: %+v (found %v); want 15 with nothing copied (up=-1)", reset, ok)
	}

	// The refresh falls due: the next run commits the position again.
	m.Settings.ProgressRefresh = 50 * time.Millisecond
	time.Sleep(100 * time.Millisecond)
	res := m.testRun(t)
	if res.Resets != 0 || res.Records != 0 {
		t.Errorf("refresh run: %d resets, %d records (%+v); want neither", res.Resets, res.Records, res.Detail)
	}
	got, ok := m.testPosition(t, u)
	if !ok || got.Next != 15 || got.LastUpstream != -1 {
		t.Fatalf("position after the refresh run: %+v (found %v); want still 15 with up=-1", got, ok)
	}
	if !got.Committed.After(reset.Committed) {
		t.Errorf("the position committed at %v was not refreshed by a run with its refresh due (still %v)", reset.Committed, got.Committed)
	}

	// Records after it are copied once.
	kafkatest.ProduceSeq(t, rc.prod, rc.src, 1, 15, 20)
	if res := m.testRun(t); res.Records != 5 || res.Resets != 0 {
		t.Errorf("run after 5 new records: %d copied, %d resets; want 5 and none", res.Records, res.Resets)
	}
}

func TestResetPositionRefreshed(t *testing.T) { kafkatest.EachPair(t, testResetPositionRefreshed) }
