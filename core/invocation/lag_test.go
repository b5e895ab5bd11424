package invocation

import (
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// The flow's lag in seconds is the age of the oldest record not copied
// yet: with one of two partitions left to a later run (MIRROR_MAX_UNITS=1
// in a single work group, MIRROR_GROUPS=1) it is the age of that partition's first record; once both are copied it
// is 0.
func TestLagSeconds(t *testing.T) { kafkatest.EachPair(t, testLagSeconds) }

func testLagSeconds(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "lagage")
	const parts, perPartition = 2, 50
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, perPartition)
	// Every partition's first record carries this timestamp (kafkatest.Record).
	first := kafkatest.Record(topic, 0, 0).Timestamp

	a := newApp(t, pair, config.Settings{MaxUnits: 1, Groups: 1}, "A->B.topics = "+topic)
	before := time.Since(first).Seconds()
	sum := reconcileAndMirror(t, a)
	after := time.Since(first).Seconds()
	f := sum.Flows[0]
	if f.Records != perPartition || f.LagLeft != perPartition {
		t.Fatalf("first run copied %d records, lag %d; want one partition copied and one left (%d each)", f.Records, f.LagLeft, perPartition)
	}
	if f.LagSeconds == nil || *f.LagSeconds < before || *f.LagSeconds > after {
		t.Fatalf("lag seconds %v, want the age of the first record left, between %.0f and %.0f", f.LagSeconds, before, after)
	}

	sum = reconcileAndMirror(t, a)
	if f := sum.Flows[0]; f.LagLeft != 0 || f.LagSeconds == nil || *f.LagSeconds != 0 {
		t.Fatalf("second run: lag %d, lag seconds %v; want 0 and 0", f.LagLeft, f.LagSeconds)
	}
}
