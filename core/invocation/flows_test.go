package invocation

import (
	"context"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A->B and B->A in one file: each side's topics arrive on the other as
// `{alias}.topic`, and nothing is sent back where it came from.
func testBidirectional(t *testing.T, pair kafkatest.Pair) {
	ta, tb := kafkatest.Unique(t, "left"), kafkatest.Unique(t, "right")
	kafkatest.CreateTopic(t, pair.A, ta, 2, nil)
	kafkatest.CreateTopic(t, pair.B, tb, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), ta, 2, 0, 50)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), tb, 2, 0, 70)
	// Each flow selects everything the test made on its source, copies included.
	a := newApp(t, pair, config.Settings{},
		"B->A.enabled = true",
		"A->B.topics = "+ta+", "+"B\\."+tb+", A\\.B\\."+tb,
		"B->A.topics = "+tb+", "+"A\\."+ta+", B\\.A\\."+ta)
	for range 2 {
		reconcileAndMirror(t, a)
	}
	ctx := context.Background()
	for _, c := range []struct {
		addr, topic string
		want        bool
	}{
		{pair.B, "A." + ta, true}, {pair.A, "B." + tb, true},
		{pair.A, "B.A." + ta, false}, {pair.B, "A.B." + tb, false},
	} {
		td, err := kafkatest.Admin(t, c.addr).ListTopics(ctx, c.topic)
		if err != nil {
			t.Fatal(err)
		}
		if got := td.Has(c.topic) && td[c.topic].Err == nil; got != c.want {
			t.Errorf("%s on %s: exists %v, want %v", c.topic, c.addr, got, c.want)
		}
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+ta), 2, 50); err != nil {
		t.Error(err)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.A, "B."+tb), 2, 70); err != nil {
		t.Error(err)
	}
}

func TestBidirectional(t *testing.T) { kafkatest.EachPair(t, testBidirectional) }

// IdentityReplicationPolicy keeps topic names.
func testIdentity(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "identity")
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 40)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic,
		"replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy")
	reconcileAndMirror(t, a)
	if err := kafkatest.SameRecords(kafkatest.ReadAll(t, pair.A, topic), kafkatest.ReadAll(t, pair.B, topic)); err != nil {
		t.Fatal(err)
	}
}

func TestIdentity(t *testing.T) { kafkatest.EachPair(t, testIdentity) }
