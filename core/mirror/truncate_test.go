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

// A source partition that now ends before the committed position, same
// topic (an unclean election to a shorter replica), is stopped; with
// MIRROR_RESET_POLICY=earliest it resumes at the source's end, never at
// its start, which would copy every retained record twice. The pairs have
// one broker each, so the truncation is staged as the mirror sees it: 30
// records copied, then a position of 50 (the 20 records the source lost
// after they were copied).
func testSourceTruncatedReset(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "truncated")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prodA := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prodA, src, 1, 0, 30)
	m := testMirror(t, pair, "truncate", "A->B.topics = "+src)
	if res := m.testRun(t); res.Records != 30 {
		t.Fatalf("copied %d records; want 30", res.Records)
	}
	u := lease.Unit{Topic: "A." + src, Partition: 0}
	pos, ok := m.testPosition(t, u)
	if !ok || pos.Next != 30 || pos.SourceID == "" {
		t.Fatalf("progress %+v; want position 30 with the source topic id", pos)
	}
	pos.Next, pos.LastUpstream, pos.LastDownstream = 50, 49, 49
	m.stagePosition(t, u, pos)
	_, err := m.Run(ctx, time.Now().Add(20*time.Second))
	if !errors.Is(err, ErrPartitionStopped) || !errors.Is(err, ErrSourceTruncated) {
		t.Fatalf("run after the truncation: %v; want the partition stopped as truncated", err)
	}

	m.Settings.ResetPolicy = config.ResetEarliest
	res := m.testRun(t)
	if res.Resets != 1 || res.Skipped != 20 || res.Records != 0 || len(res.Detail) != 1 || !strings.Contains(res.Detail[0].Reset, "offsets 30..49") {
		t.Fatalf("reset run: %+v; want one reset at the source end skipping offsets 30..49, nothing copied", res)
	}
	// Records the source gets after the truncation are copied once.
	kafkatest.ProduceSeq(t, prodA, src, 1, 30, 40)
	if res := m.testRun(t); res.Records != 10 || res.Resets != 0 {
		t.Fatalf("run after the reset: %+v; want the 10 new records copied", res)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+src), 1, 40); err != nil {
		t.Fatal(err)
	}
}

func TestSourceTruncatedReset(t *testing.T) { kafkatest.EachPair(t, testSourceTruncatedReset) }
