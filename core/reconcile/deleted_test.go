package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// A remote topic deleted on the target after the mirror copied into it
// (the offset-syncs topic still holds syncs for its source) is not
// silently re-created; a never-copied one is; one the operator created by
// hand is left alone (that is the consent to re-copy).
func TestHoldDeletedRemotes(t *testing.T) {
	pair := kafkatest.Kfake(t)
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.A, "copied", 2, nil)
	kafkatest.CreateTopic(t, pair.A, "fresh", 1, nil)
	f := flow(t, pair, "A->B.topics = copied|fresh")
	kafkatest.CreateTopic(t, pair.B, f.OffsetSyncsTopic(), 1, nil)
	prod := kafkatest.Producer(t, pair.B)
	ctx := context.Background()
	for _, s := range []offsetsync.OffsetSync{
		{Topic: "copied", Partition: 1, Upstream: 41, Downstream: 41},
		{Topic: "copied", Partition: 0, Upstream: 7, Downstream: 7},
		{Topic: "other", Partition: 0, Upstream: 99, Downstream: 99},
	} {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: f.OffsetSyncsTopic(), Key: s.Key(), Value: s.Value()}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A hostile record must not stop the read.
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: f.OffsetSyncsTopic(), Key: []byte{0xff}, Value: []byte{1}}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	plan := func() *Plan {
		t.Helper()
		p, err := MakePlan(ctx, f, src, tgt)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.HoldDeletedRemotes(ctx, f, tgt, []kgo.Opt{kgo.SeedBrokers(pair.B)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan()
	creates := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind == CreateTopic {
			creates[a.Topic] = true
		}
	}
	if creates["A.copied"] || !creates["A.fresh"] {
		t.Fatalf("creations = %v, want A.fresh only", creates)
	}
	if len(p.Held) != 1 || p.Held[0] != "A.copied" {
		t.Fatalf("held = %v, want [A.copied]", p.Held)
	}
	note := strings.Join(p.Notes, "\n")
	for _, want := range []string{"remote topic A.copied is missing", "source offset 41 of partition 1", "create A.copied yourself with 2 partitions"} {
		if !strings.Contains(note, want) {
			t.Errorf("notes lack %q:\n%s", want, note)
		}
	}
	if err := Apply(ctx, p, tgt); err != nil {
		t.Fatal(err)
	}
	// The operator re-creates it by hand: nothing is held any more.
	kafkatest.CreateTopic(t, pair.B, "A.copied", 2, nil)
	if p := plan(); len(p.Held) != 0 || len(p.Actions) != 0 {
		t.Fatalf("after the operator created A.copied: held %v, actions %+v", p.Held, p.Actions)
	}
}
