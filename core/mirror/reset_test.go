package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// A reset to the source's log start (MIRROR_RESET_POLICY=earliest) forgets
// the last copied offsets of the old history (Position.LastUpstream and
// LastDownstream) and commits the new position at once. The review of
// issue 17 found a reset that kept them: the source topic recreated
// empty, the lane reset to offset 0 with up=29 down=29 of the old topic,
// and the run's refresh of the idle position (MIRROR_PROGRESS_REFRESH)
// wrote the old last sync again and the position 0 with up=29, which
// parsePosition refuses (the last copied offset must be before the
// position): the next run read no progress, saw the remote records, and
// stopped the partition as foreign records. Forgetting them alone left
// the due refresh with no sync to write: the run tried again and again
// until its stop time (the partition ended "deadline"), committed
// nothing, and every later run reset the partition again.
//
// The invariant checked, from syncs.go and progress.go: every offset sync
// written for the partition after the reset names a record copied from
// the new history (upstream at or past the reset point and before the
// committed position, downstream past the remote's records of the old
// one), and every position committed parses (up before the position).
func testResetForgetsLastCopied(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "reset")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 30)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	remote := sa + "." + src
	u := lease.Unit{Topic: remote, Partition: 0}
	m := flowMirror(t, pair, sa, ta, "reset", props...)
	if res := m.testRun(t); res.Records != 30 {
		t.Fatalf("first run copied %d records; want 30", res.Records)
	}
	before, ok := m.testPosition(t, u)
	if !ok || before.Next != 30 || before.LastUpstream != 29 {
		t.Fatalf("position after the first run: %+v (found %v); want 30 with up=29", before, ok)
	}

	// The source topic is deleted and recreated, empty: its log start
	// (0) is the reset point, and its end too, so the reset lane is idle
	// and its position due for a refresh.
	adm := kafkatest.Admin(t, pair.A)
	if _, err := adm.DeleteTopic(ctx, src); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // deletion completes asynchronously on a real broker
		r, err := adm.CreateTopic(ctx, 1, 1, nil, src)
		if err == nil && r.Err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("recreate %s: %v %v", src, err, r.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; ; i++ { // and the mirror's client lists the new topic id (it may hold the old metadata)
		td, err := m.SourceAdmin.ListTopics(ctx, src)
		if err == nil && td[src].Err == nil && td[src].ID.String() != before.SourceID {
			break
		}
		if i == 100 {
			t.Fatalf("recreated %s still listed with its old id: %v %+v", src, err, td[src])
		}
		time.Sleep(100 * time.Millisecond)
	}
	syncsTopic := m.Flow.OffsetSyncsTopic()
	syncsBefore := len(kafkatest.ReadAll(t, pair.B, syncsTopic))
	remoteEnd := int64(len(kafkatest.ReadAll(t, pair.B, remote))) // 30: the old topic's copies are below it

	m.Settings.ResetPolicy = config.ResetEarliest
	m.Settings.ProgressRefresh = time.Millisecond
	// A run with 5 s to its stop time: the lane has nothing to copy.
	res, err := m.Run(ctx, time.Now().Add(5*time.Second))
	if err != nil || res.Resets != 1 || res.Records != 0 || len(res.Detail) != 1 {
		t.Fatalf("run after the recreation: %v %+v; want one reset, nothing copied", err, res)
	}
	if d := res.Detail[0]; d.Status != UnitDone {
		t.Errorf("the reset partition ended %q; want %q (nothing to copy)", d.Status, UnitDone)
	}
	// readProgress leaves out a position that does not parse.
	if pos, ok := m.testPosition(t, u); !ok || pos.Next != 0 || pos.LastUpstream != -1 || pos.SourceID == before.SourceID {
		t.Errorf("position after the reset: %+v (found %v); want 0 of the new topic with nothing copied (up=-1)", pos, ok)
	}

	// The next runs go on without another reset, and copy the new
	// topic's records after the old ones.
	for i := range 2 {
		res, err := m.Run(ctx, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("run %d after the reset: %v", i+1, err)
		}
		if res.Resets != 0 {
			t.Errorf("run %d after the reset reset the partition again: %+v", i+1, res.Detail)
		}
	}
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 10)
	if res := m.testRun(t); res.Records != 10 {
		t.Errorf("run after 10 new records: copied %d; want 10 (%+v)", res.Records, res)
	}
	got := kafkatest.ReadAll(t, pair.B, remote)
	if len(got) != 40 {
		t.Fatalf("remote holds %d records; want the old topic's 30 and the new one's 10", len(got))
	}
	for i, r := range got[30:] {
		if s := kafkatest.Seq(r); s != int64(i) {
			t.Fatalf("record %d after the reset has sequence %d; want %d", 30+i, s, i)
		}
	}
	pos, ok := m.testPosition(t, u)
	if !ok || pos.Next != 10 {
		t.Fatalf("position after copying the new records: %+v (found %v); want 10", pos, ok)
	}
	for _, s := range syncsAfter(t, pair, syncsTopic, syncsBefore, src) {
		if s.Upstream < 0 || s.Upstream >= pos.Next || s.Downstream < remoteEnd {
			t.Errorf("offset sync written after the reset names upstream %d downstream %d; want a record of the new history (upstream in 0..%d, downstream from %d on)",
				s.Upstream, s.Downstream, pos.Next-1, remoteEnd)
		}
	}
}

func TestResetForgetsLastCopied(t *testing.T) { kafkatest.EachPair(t, testResetForgetsLastCopied) }

// syncsAfter decodes the offset syncs for source topic src in the
// offset-syncs topic past its first skip records.
func syncsAfter(t *testing.T, pair kafkatest.Pair, topic string, skip int, src string) []offsetsync.OffsetSync {
	t.Helper()
	var out []offsetsync.OffsetSync
	recs := kafkatest.ReadAll(t, pair.B, topic)
	for _, r := range recs[min(skip, len(recs)):] {
		s, err := offsetsync.DecodeOffsetSync(r.Key, r.Value)
		if err != nil {
			t.Fatalf("offset sync at %d: %v", r.Offset, err)
		}
		if s.Topic == src {
			out = append(out, s)
		}
	}
	return out
}
