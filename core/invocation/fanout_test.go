package invocation

import (
	"context"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// SizeMirror measures the records and partitions behind from the plan,
// sizes the tick by core/fanout's rule, and after a copy sees nothing left
// (the tick runs alone). It claims and writes nothing: sizing twice gives
// the same answer, and the invocations it sized copy everything.
func TestSizeMirror(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, pair kafkatest.Pair) {
		topic := kafkatest.Unique(t, "size")
		const parts, n = 6, 50
		kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
		kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, n)
		// Two partitions per invocation: six partitions behind need three.
		a := newApp(t, pair, config.Settings{MaxUnits: 2, MaxConcurrency: 10}, "A->B.topics = "+topic)
		ctx := context.Background()
		if _, err := a.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		want := fanout.Backlog{Records: parts * n, Partitions: parts}
		for range 2 {
			s, err := a.SizeMirror(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Backlog != want || s.Invocations != 3 || s.Limit != 10 {
				t.Fatalf("sizing %+v, want backlog %+v and 3 invocations of at most 10", s, want)
			}
		}
		// The three invocations sized (here one after the other) clear it.
		var copied int64
		for range 3 {
			sum, err := a.Mirror(ctx, NewOwner(""))
			if err != nil {
				t.Fatal(err)
			}
			copied += sum.Records
		}
		if copied != parts*n {
			t.Fatalf("the three invocations after sizing copied %d records, want %d", copied, parts*n)
		}
		s, err := a.SizeMirror(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Backlog != (fanout.Backlog{}) || s.Invocations != 1 {
			t.Fatalf("after the copy: %+v, want nothing behind and the tick alone", s)
		}
	})
}

// The flows of an invocation split MIRROR_MAX_UNITS (mirror.Mirror.Share),
// so a tick sized on every flow's partitions over the whole setting starts
// too few invocations when the partitions behind are in one flow: here
// A->B has six partitions behind, B->A none, and each invocation may claim
// one of A->B's (two units, two flows). Sized at three (6 / 2), the tick's
// invocations left half of A->B for the next tick; it takes six.
func TestSizeMirrorSharedUnits(t *testing.T) {
	pair, _, _ := kafkatest.KfakeClusters(t)
	big, small := kafkatest.Unique(t, "wide"), kafkatest.Unique(t, "idle")
	const parts, n = 6, 20
	kafkatest.CreateTopic(t, pair.A, big, parts, nil)
	kafkatest.CreateTopic(t, pair.B, small, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), big, parts, 0, n)
	a := newApp(t, pair, config.Settings{MaxUnits: 2, MaxConcurrency: 10},
		"A->B.topics = "+big, "B->A.enabled = true", "B->A.topics = "+small)
	ctx := context.Background()
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := a.SizeMirror(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (fanout.Backlog{Records: parts * n, Partitions: parts}); s.Backlog != want || s.Invocations != parts {
		t.Fatalf("sizing %+v, want backlog %+v and %d invocations (one A->B partition each)", s, want, parts)
	}
	var copied int64
	for range s.Invocations {
		sum, err := a.Mirror(ctx, NewOwner(""))
		if err != nil {
			t.Fatal(err)
		}
		copied += sum.Records
	}
	if copied != parts*n {
		t.Fatalf("the %d invocations sized copied %d records, want %d", s.Invocations, copied, parts*n)
	}
}
