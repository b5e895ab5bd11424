package mirror

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A reset by the reset policy is committed at once, as an anchor, and
// the group's new producer is initialised after it. When that
// InitProducerID outlasts the run (the target still completing the
// anchor's commit: CONCURRENT_TRANSACTIONS until the run's end, as in
// TestGroupStartOutlastsRun), the group's partitions end as "deadline",
// but the reset is committed: the position jumped past the deleted
// records. The run must report it (the reset, the offsets skipped): the
// next run finds a consistent position and reports nothing, so a reset
// left out here is a silent skip. kfake only: it answers the group's
// InitProducerID CONCURRENT_TRANSACTIONS once the anchor has committed.
func TestResetReportedWhenStartOutlastsRun(t *testing.T) {
	const (
		budget = 4 * time.Second
		margin = 2 * time.Second
	)
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	rc := newResetCase(t, pair, "resetreport")
	m, u := rc.m, rc.u
	m.Settings.SafetyMargin = margin
	busy, answered := stallGroupInitAfterAnchor(b)

	res, err := m.Run(ctx, time.Now().Add(budget-margin))
	busy.Store(false)
	t.Logf("run: %+v, err %v", res, err)
	if !answered.Load() {
		t.Fatal("no InitProducerID of the group after its anchor reached the target: the stall was not exercised")
	}
	got, ok := m.testPosition(t, u)
	if !ok || got.Next != 15 {
		t.Fatalf("position %d (found %v); want 15: the reset's anchor did not land, the case is not exercised", got.Next, ok)
	}
	if err == nil && (res.Resets != 1 || res.Skipped != 5) {
		t.Errorf("the run committed the reset past offsets 10..14 and reported %d resets, %d offsets skipped, no error (%+v); want the reset and its 5 skipped offsets reported", res.Resets, res.Skipped, res.Detail)
	}

	// The next run finds the position consistent: nothing reports the
	// reset any more, and it copies what comes next once.
	kafkatest.ProduceSeq(t, rc.prod, rc.src, 1, 15, 20)
	if res := m.testRun(t); res.Resets != 0 || res.Records != 5 {
		t.Errorf("next run: %d resets, %d records; want none and 5", res.Resets, res.Records)
	}
}

// The same cut-short start, with another partition of the group stopped
// by position (the remote partition holds records without progress:
// foreign records, a stop whatever the reset policy): its failure was
// reported as "deadline", the run ending without error, instead of the
// loud stop every run reports for it.
func TestStopReportedWhenStartOutlastsRun(t *testing.T) {
	const (
		budget = 4 * time.Second
		margin = 2 * time.Second
	)
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	lost, foreign := kafkatest.Unique(t, "lost"), kafkatest.Unique(t, "foreign")
	prod := kafkatest.Producer(t, pair.A)
	for _, topic := range []string{lost, foreign} {
		kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
		kafkatest.ProduceSeq(t, prod, topic, 1, 0, 10)
	}
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "stopreport", sa+"->"+ta+".topics = "+lost+", "+foreign)
	m.Settings.Groups = 1
	// Another tool wrote to the foreign topic's remote.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), sa+"."+foreign, 1, 0, 3)
	if res, err := m.Run(ctx, time.Now().Add(20*time.Second)); !errors.Is(err, ErrForeignRecords) || res.Records != 10 {
		t.Fatalf("first run: %v, %d records; want the lost topic's 10 copied and the foreign one stopped", err, res.Records)
	}

	// The lost topic's 10..14 are deleted before they are copied (a
	// reset, anchored).
	kafkatest.ProduceSeq(t, prod, lost, 1, 10, 15)
	deleteSourceRecords(t, m, lost, 0, 15)
	m.Settings.ResetPolicy = config.ResetEarliest
	m.Settings.SafetyMargin = margin
	busy, answered := stallGroupInitAfterAnchor(b)

	res, err := m.Run(ctx, time.Now().Add(budget-margin))
	busy.Store(false)
	t.Logf("run: err %v", err)
	for _, d := range res.Detail {
		t.Logf("%s/%d: %s (%s) reset %q", d.Topic, d.Partition, d.Status, d.Error, d.Reset)
	}
	if !answered.Load() {
		t.Fatal("no InitProducerID of the group after its anchor reached the target: the stall was not exercised")
	}
	for _, d := range res.Detail {
		if d.Topic == foreign && d.Status != UnitFailed {
			t.Errorf("%s/%d ended %q (%s); want %q: its remote holds foreign records", d.Topic, d.Partition, d.Status, d.Error, UnitFailed)
		}
	}
	if !errors.Is(err, ErrForeignRecords) || res.Stopped != 1 {
		t.Errorf("run: %v, %d partitions stopped; want the foreign records' stop reported (ErrForeignRecords, 1 stopped)", err, res.Stopped)
	}
}

// The same, when the start then fails for a reason that is no deadline
// (here the progress read after the anchor refused: GROUP_AUTHORIZATION_FAILED):
// the run fails, and it must still report the reset its anchor committed.
func TestResetReportedWhenStartFails(t *testing.T) {
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t)
	rc := newResetCase(t, pair, "resetfail")
	m, u := rc.m, rc.u

	var refused atomic.Bool
	progress := ProgressGroup(m.Flow)
	anchored := noteGroupAnchor(b)
	b.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.OffsetFetchRequest)
		if !anchored.Load() || refused.Load() || len(r.Groups) != 1 || r.Groups[0].Group != progress {
			return nil, nil, false
		}
		refused.Store(true)
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = progress
		g.ErrorCode = kerr.GroupAuthorizationFailed.Code
		resp.Groups = append(resp.Groups, g)
		return resp, nil, true
	})

	res, err := m.Run(ctx, time.Now().Add(20*time.Second))
	t.Logf("run: %v, %+v", err, res.Detail)
	if !refused.Load() {
		t.Fatal("no progress read after the anchor reached the target: the failure was not exercised")
	}
	got, ok := m.testPosition(t, u)
	if !ok || got.Next != 15 {
		t.Fatalf("position %d (found %v); want 15: the reset's anchor did not land, the case is not exercised", got.Next, ok)
	}
	if err == nil {
		t.Error("run: no error; want the group's failure")
	}
	if res.Resets != 1 || res.Skipped != 5 {
		t.Errorf("the run committed the reset past offsets 10..14 and reported %d resets, %d offsets skipped; want the reset and its 5 skipped offsets reported", res.Resets, res.Skipped)
	}
}
