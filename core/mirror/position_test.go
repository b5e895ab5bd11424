package mirror

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// A unit whose remote partition holds records while this invocation read
// no progress for it is stopped (written by something else), unless the
// progress is there when read again: then another invocation fenced this
// one and committed the unit's first transaction in between, and the unit
// is passed over, not stopped. (Seen in TestScaleNothingStarves: three
// concurrent invocations, one stopped a partition another had just begun.)
func testUnitTakenWhileStarting(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	remote := kafkatest.Unique(t, "A.taken")
	kafkatest.CreateTopic(t, pair.B, remote, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), remote, 1, 0, 5)
	adm := kafkatest.Admin(t, pair.B)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	flow := &config.Flow{Source: "A", Target: "B" + remote}
	m := &Mirror{Flow: flow, TargetAdmin: adm, TargetOpts: []kgo.Opt{kgo.SeedBrokers(pair.B)}, Logger: discard}
	u := &unit{Unit: lease.Unit{Topic: remote, Partition: 0}, SourceTopic: "taken", SourceID: "id", End: 20}
	bounds, err := remoteBounds(ctx, adm, []*unit{u})
	if err != nil {
		t.Fatal(err)
	}
	g := &groupRun{m: m, log: discard}
	l := &lane{u: u, log: discard}
	if _, err := g.position(ctx, l, map[lease.Unit]Position{}, bounds[u.Unit]); !errors.Is(err, ErrPartitionStopped) {
		t.Fatalf("records and no progress: %v, want the partition stopped", err)
	}
	pos := Position{Next: 5, LastUpstream: 4, LastDownstream: 4, SourceID: "id", Committed: time.Now()}
	if err := commitProgressPlain(ctx, adm, ProgressGroup(flow), u.Unit, pos); err != nil {
		t.Fatal(err)
	}
	if _, err := g.position(ctx, l, map[lease.Unit]Position{}, bounds[u.Unit]); !errors.Is(err, errUnitTaken) {
		t.Fatalf("progress committed after it was read: %v, want the unit passed over", err)
	}
}

func TestUnitTakenWhileStarting(t *testing.T) { kafkatest.EachPair(t, testUnitTakenWhileStarting) }

// A committed position past the end this invocation planned with is
// impossible only if the source says so now: another invocation that
// planned later may have fenced this one and copied further. The unit
// goes on (its end moved up); a position past the source's real end is
// still refused.
func testPositionPastPlannedEnd(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "pastend")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 1, 0, 20)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &Mirror{Flow: &config.Flow{Source: "A", Target: "B" + src}, SourceAdmin: kafkatest.Admin(t, pair.A), Logger: discard}
	for _, c := range []struct {
		next    int64
		stopped bool
	}{{15, false}, {25, true}} {
		u := &unit{Unit: lease.Unit{Topic: "A." + src, Partition: 0}, SourceTopic: src, SourceID: "id", End: 10}
		g, l := &groupRun{m: m, log: discard}, &lane{u: u, log: discard}
		progress := map[lease.Unit]Position{u.Unit: {Next: c.next, LastUpstream: c.next - 1, LastDownstream: c.next - 1, SourceID: "id", Committed: time.Now()}}
		_, err := g.position(ctx, l, progress, [2]int64{})
		switch {
		case c.stopped && !errors.Is(err, ErrPartitionStopped):
			t.Errorf("position %d past the source's end 20: %v, want the partition stopped", c.next, err)
		case !c.stopped && (err != nil || u.End != 20 || l.pos.Next != c.next):
			t.Errorf("position %d, planned end 10, source end 20: err %v, end %d, next %d; want it accepted with end 20", c.next, err, u.End, l.pos.Next)
		}
	}
}

func TestPositionPastPlannedEnd(t *testing.T) { kafkatest.EachPair(t, testPositionPastPlannedEnd) }
