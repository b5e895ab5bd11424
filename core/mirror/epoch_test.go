package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// Issue 18 item 3. A position carries the source leader epoch of the
// record before it, and a run checks it with the source before resuming
// (OffsetForLeaderEpoch, as consumers do since KIP-320). When the source's
// log diverged from what was copied (an unclean leader election made a
// replica without the last copied records leader, and new records took
// their offsets), the partition stops loudly, every run, instead of
// copying on silently.
//
// A real unclean election needs a cluster of several brokers with
// unclean.leader.election.enable; the pair has one broker each. So the
// divergence is staged where the source's answer comes from: the position
// names a leader epoch the source's leader has no record of, which is what
// such a leader answers for the epoch of records it never had (kfake and
// Kafka both answer UNDEFINED_EPOCH_OFFSET). The check itself, the
// metadata and the stop run on both pairs.
func testSourceDiverged(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "diverged")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prodA := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prodA, src, 1, 0, 30)
	props := []string{"A->B.topics = " + src}
	m := testMirror(t, pair, "epoch", props...)
	if res := m.testRun(t); res.Records != 30 {
		t.Fatalf("copied %d records; want 30", res.Records)
	}
	u := lease.Unit{Topic: "A." + src, Partition: 0}
	pos, ok := m.testPosition(t, u)
	if !ok || pos.Next != 30 || !pos.HasEpoch {
		t.Fatalf("progress %+v; want position 30 with the source leader epoch", pos)
	}
	// Another run with the position's epoch intact resumes normally.
	kafkatest.ProduceSeq(t, prodA, src, 1, 30, 40)
	if res := m.testRun(t); res.Records != 10 {
		t.Fatalf("copied %d records after the first run; want 10", res.Records)
	}

	// The source now answers that the epoch of the copied records is
	// unknown to its leader.
	pos, _ = m.testPosition(t, u)
	pos.Epoch += 1000
	m.stagePosition(t, u, pos)
	kafkatest.ProduceSeq(t, prodA, src, 1, 40, 50)
	for run := 0; run < 2; run++ {
		res, err := m.Run(ctx, time.Now().Add(20*time.Second))
		if !errors.Is(err, ErrPartitionStopped) || !errors.Is(err, ErrSourceDiverged) || !strings.Contains(err.Error(), "diverged") {
			t.Fatalf("run %d after the divergence: %v; want the partition stopped as diverged", run, err)
		}
		if res.Stopped != 1 || res.Records != 0 {
			t.Fatalf("run %d after the divergence: stopped %d, copied %d; want 1 and 0", run, res.Stopped, res.Records)
		}
	}
	if got := len(kafkatest.ReadAll(t, pair.B, "A."+src)); got != 40 {
		t.Fatalf("target holds %d records; want the 40 copied before the divergence", got)
	}

	// MIRROR_RESET_POLICY=earliest resumes it from the position, saying so.
	m.Settings.ResetPolicy = config.ResetEarliest
	res := m.testRun(t)
	if res.Records != 10 || res.Resets != 1 || len(res.Detail) != 1 || !strings.Contains(res.Detail[0].Reset, "diverged") {
		t.Fatalf("reset run: %+v; want 10 records copied and the reset named", res)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+src), 1, 50); err != nil {
		t.Fatal(err)
	}
}

func TestSourceDiverged(t *testing.T) { kafkatest.EachPair(t, testSourceDiverged) }

// The same, where the source can say where the copied epoch ends: kfake's
// source moves the partition's leadership (a new leader epoch) after 30
// records, and 10 more are written in the new epoch. A position at 30 in
// the first epoch is consistent (that epoch ends at 30) and resumes; a
// position at 40 that claims the first epoch is what a copy of records
// the source then replaced looks like: stopped, naming offsets 30..39,
// and with the reset policy resumed with those 10 counted as skipped.
func TestSourceDivergedAtKnownOffset(t *testing.T) {
	pair, a, _ := kafkatest.KfakeClusters(t)
	ctx := context.Background()
	src := kafkatest.Unique(t, "diverged")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prodA := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prodA, src, 1, 0, 30)
	if err := a.MoveTopicPartition(src, 0, a.LeaderFor(src, 0)); err != nil {
		t.Fatal(err)
	}
	kafkatest.ProduceSeq(t, prodA, src, 1, 30, 40)
	m := testMirror(t, pair, "epoch", "A->B.topics = "+src)
	u := lease.Unit{Topic: "A." + src, Partition: 0}
	stage := func(next int64, epoch int32) {
		t.Helper()
		m.stagePosition(t, u, Position{Next: next, LastUpstream: next - 1, LastDownstream: next - 1, Committed: time.Now(), Epoch: epoch, HasEpoch: true})
	}
	// Consistent: epoch 0 ends at 30, the position. (The remote is empty;
	// only the position matters here.)
	stage(30, 0)
	if res := m.testRun(t); res.Records != 10 || res.Stopped != 0 {
		t.Fatalf("position 30 in epoch 0: %+v; want the 10 records of epoch 1 copied", res)
	}
	if p, _ := m.testPosition(t, u); p.Next != 40 || !p.HasEpoch || p.Epoch != 1 {
		t.Fatalf("progress after the copy: %+v; want 40 in epoch 1", p)
	}

	// The source grows on past the position (a partition with no lag is
	// not claimed, so not checked, until it has some).
	stage(40, 0)
	kafkatest.ProduceSeq(t, prodA, src, 1, 40, 45)
	_, err := m.Run(ctx, time.Now().Add(20*time.Second))
	if !errors.Is(err, ErrSourceDiverged) || !strings.Contains(err.Error(), "offsets 30..39") {
		t.Fatalf("position 40 in epoch 0, which ends at 30: %v; want the partition stopped naming offsets 30..39", err)
	}
	m.Settings.ResetPolicy = config.ResetEarliest
	res := m.testRun(t)
	if res.Resets != 1 || res.Skipped != 10 || res.Records != 5 {
		t.Fatalf("reset run: %+v; want one reset skipping 10 offsets and the 5 new records copied", res)
	}
}
