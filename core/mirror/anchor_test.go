package mirror

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// testMirror builds a Mirror for the pair's flow A->B with the extra
// properties, after reconciling it (remote topics, offset-syncs topic).
func testMirror(t *testing.T, pair kafkatest.Pair, owner string, extra ...string) *Mirror {
	t.Helper()
	return flowMirror(t, pair, "A", "B", owner, extra...)
}

// flowMirror is testMirror for the flow source->target, the aliases of
// the pair's clusters A and B (kafkatest.PropertiesFor).
func flowMirror(t *testing.T, pair kafkatest.Pair, source, target, owner string, extra ...string) *Mirror {
	t.Helper()
	path := kafkatest.PropertiesFor(t, pair, source, target, extra...)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MIRROR_PROPERTIES_FILE", path)
	s, err := config.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	var f *config.Flow
	for _, fl := range cfg.Flows {
		if fl.Name() == source+"->"+target {
			f = fl
		}
	}
	if f == nil {
		t.Fatalf("no flow %s->%s", source, target)
	}
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	ctx := context.Background()
	p, err := reconcile.MakePlan(ctx, f, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if err := reconcile.Apply(ctx, p, tgt); err != nil {
		t.Fatal(err)
	}
	return &Mirror{
		Flow: f, Settings: s, SourceAdmin: src, TargetAdmin: tgt,
		SourceOpts: []kgo.Opt{kgo.SeedBrokers(pair.A)}, TargetOpts: []kgo.Opt{kgo.SeedBrokers(pair.B)},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: owner,
	}
}

// run is one invocation of m with a 20 s budget; it must succeed.
func (m *Mirror) testRun(t *testing.T) *Result {
	t.Helper()
	res, err := m.Run(context.Background(), time.Now().Add(20*time.Second))
	if err != nil {
		t.Fatalf("run of %s: %v (%+v)", m.Owner, err, res)
	}
	return res
}

// testPosition is u's committed position, read back as a run reads it.
func (m *Mirror) testPosition(t *testing.T, u lease.Unit) (Position, bool) {
	t.Helper()
	progress, err := readProgress(context.Background(), m.TargetAdmin, ProgressGroup(m.Flow), map[lease.Unit]bool{u: true})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := progress[u]
	return p, ok
}

// stagePosition overwrites u's committed position with p, outside any
// transaction: a test stages what the source or an earlier run left.
func (m *Mirror) stagePosition(t *testing.T, u lease.Unit, p Position) {
	t.Helper()
	if err := commitProgressPlain(context.Background(), m.TargetAdmin, ProgressGroup(m.Flow), u, p); err != nil {
		t.Fatal(err)
	}
}

// Issue 18 item 1. Under auto.offset.reset=latest a partition with no
// progress is anchored at the source end. Invocation X plans and fences
// the unit, then is delayed before its anchor lands; meanwhile Y fences X
// and anchors at 100, 50 records arrive and Z copies them, committing
// progress 150 in a transaction. X's anchor then lands. It must not
// rewind the progress to 100 (the next run would copy 100..149 twice):
// X is fenced, and says so.
func testStaleAnchor(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "anchor")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prodA := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prodA, src, 1, 0, 100)
	props := []string{"A->B.topics = " + src, "A->B.consumer.auto.offset.reset = latest"}
	x := testMirror(t, pair, "x", props...)

	// X plans and fences the unit, and reads no progress.
	p, err := makePlan(ctx, x.Flow, x.SourceAdmin, x.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u := p.find(lease.Unit{Topic: "A." + src, Partition: 0})
	if u == nil || u.End != 100 || u.Progress != nil {
		t.Fatalf("plan: %+v; want the unit at end 100 with no progress", u)
	}
	a, err := x.settle(ctx, 1, p.OffsetSyncsID, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &groupRun{m: x, id: 0, assign: a, txnID: x.groupTxnID(0), log: x.Logger, stopAt: time.Now().Add(20 * time.Second), end: time.Now().Add(25 * time.Second)}
	if err := g.initProducer(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { g.prod.Close() }()
	l := &lane{u: u, log: x.Logger}
	bounds, err := remoteBounds(ctx, x.TargetAdmin, []*unit{u})
	if err != nil {
		t.Fatal(err)
	}
	if anchor, err := g.position(ctx, l, map[lease.Unit]Position{}, bounds[u.Unit]); err != nil || !anchor {
		t.Fatalf("x's position: anchor %v, err %v; want an anchor at 100", anchor, err)
	}

	// Y anchors at 100; Z copies the 50 records that arrive next.
	y := testMirror(t, pair, "y", props...)
	if res := y.testRun(t); res.Records != 0 {
		t.Fatalf("y copied %d records; want an anchor only", res.Records)
	}
	kafkatest.ProduceSeq(t, prodA, src, 1, 100, 150)
	z := testMirror(t, pair, "z", props...)
	if res := z.testRun(t); res.Records != 50 {
		t.Fatalf("z copied %d records; want 50", res.Records)
	}

	// X's anchor lands now.
	_, _, err = g.anchor(ctx, []*lane{l})
	if !kafka.IsFenced(err) {
		t.Errorf("x's stale anchor: %v; want it fenced", err)
	}
	progress, err := readProgress(ctx, x.TargetAdmin, ProgressGroup(x.Flow), map[lease.Unit]bool{u.Unit: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := progress[u.Unit].Next; got != 150 {
		t.Errorf("progress after x's stale anchor: %d; want 150 (z's)", got)
	}

	// The next run copies nothing again: the target holds 100..149 once.
	z.testRun(t)
	got := kafkatest.ReadAll(t, pair.B, "A."+src)
	seen := map[int64]int{}
	wrong := 0
	for _, r := range got {
		s := kafkatest.Seq(r)
		seen[s]++
		if s < 100 || s >= 150 || seen[s] > 1 {
			wrong++
		}
	}
	if len(got) != 50 || wrong > 0 {
		t.Errorf("target holds %d records, %d of them duplicates or outside 100..149; want 100..149 once each", len(got), wrong)
	}
}

func TestStaleAnchor(t *testing.T) { kafkatest.EachPair(t, testStaleAnchor) }

// testPlanSettled plans m's flow and settles an assignment of k work
// groups, as a run does before it claims.
func (m *Mirror) testPlanSettled(t *testing.T, k int) (*plan, Assignment) {
	t.Helper()
	ctx := context.Background()
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.settle(ctx, k, p.OffsetSyncsID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, a
}

// testGroupRun is work group 0 of a as m runs it, built by hand for a
// test that drives its steps (start, commit) itself: 20 s to its stop
// time, 25 s to its end. Its producer, once it has one, is closed when
// the test ends.
func (m *Mirror) testGroupRun(t *testing.T, a Assignment) *groupRun {
	g := &groupRun{m: m, id: 0, assign: a, txnID: m.groupTxnID(0), log: m.Logger, stopAt: time.Now().Add(20 * time.Second), end: time.Now().Add(25 * time.Second)}
	t.Cleanup(func() {
		if g.prod != nil {
			g.prod.Close()
		}
	})
	return g
}
