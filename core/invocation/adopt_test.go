package invocation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// Switching from MirrorMaker 2: its copy is on the target and its source
// offsets in mm2-offsets.<source>.internal (written here as MM2's
// JsonConverter writes them; partition 0 recorded less than MM2 copied, as
// at-least-once MM2 does between offset flushes). adopt finds where each
// remote partition ends on the source; after -apply the mirror continues
// with nothing copied twice and nothing skipped. A remote partition that
// is not a copy of the source is refused.
func testAdoptFromMM2(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	topic := kafkatest.Unique(t, "adopt")
	remote := "A." + topic
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 300)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// MM2's copy: 200 records of partitions 0 and 1; partition 2 holds a
	// record from somewhere else.
	b := kafkatest.Producer(t, pair.B)
	var copies []*kgo.Record
	for i := 0; i < 200; i++ {
		for p := int32(0); p < 2; p++ {
			copies = append(copies, kafkatest.Record(remote, p, i))
		}
	}
	copies = append(copies, &kgo.Record{Topic: remote, Partition: 2, Value: []byte("not from A")})
	if err := b.ProduceSync(ctx, copies...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Shared by runs on the same pair: it may exist already (the test's
	// topic names are unique, so older records do not match).
	if _, err := kafkatest.Admin(t, pair.B).CreateTopic(ctx, 5, 1, nil, "mm2-offsets.A.internal"); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatal(err)
	}
	var offsets []*kgo.Record
	for p, last := range map[int]int{0: 149, 1: 199, 2: 0} {
		offsets = append(offsets, &kgo.Record{Topic: "mm2-offsets.A.internal", Partition: int32(p % 5),
			Key:   []byte(fmt.Sprintf(`["MirrorSourceConnector",{"cluster":"A","partition":%d,"topic":%q}]`, p, topic)),
			Value: []byte(fmt.Sprintf(`{"offset":%d}`, last))})
	}
	// Another cluster's offsets in the same topic are ignored.
	offsets = append(offsets, &kgo.Record{Topic: "mm2-offsets.A.internal", Partition: 1,
		Key: []byte(fmt.Sprintf(`["MirrorSourceConnector",{"cluster":"C","partition":0,"topic":%q}]`, topic)), Value: []byte(`{"offset":5}`)})
	if err := b.ProduceSync(ctx, offsets...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	_, err := a.Mirror(ctx, NewOwner(""))
	if !errors.Is(err, mirror.ErrForeignRecords) {
		t.Fatalf("mirror before adopting: %v", err)
	}
	plan, err := a.Adopt(ctx, false)
	if err == nil || !strings.Contains(err.Error(), "matches no source record") {
		t.Fatalf("adopt plan: want partition 2 refused, got %v", err)
	}
	got := map[int32]int64{}
	for _, r := range plan.Flows["A->B"] {
		got[r.Partition] = r.Next
		if r.Partition < 2 && r.Action != "adopt" {
			t.Errorf("plan %+v", r)
		}
	}
	if got[0] != 200 || got[1] != 200 || got[2] != -1 {
		t.Fatalf("adopt would continue at %v, want 200, 200 and none", got)
	}
	sum, err := a.Adopt(ctx, true)
	if err == nil {
		t.Fatal("partition 2 was not refused")
	}
	for _, r := range sum.Flows["A->B"] {
		if r.Partition < 2 && r.Action != "adopted" {
			t.Errorf("apply %+v", r)
		}
	}
	// The adopted partitions continue; partition 2 stays refused.
	_, err = a.Mirror(ctx, NewOwner(""))
	wantStopped(t, err, mirror.ErrForeignRecords, topic, 2)
	dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, remote))
	for p := int32(0); p < 2; p++ {
		if len(dst[p]) != 300 {
			t.Fatalf("partition %d holds %d records, want 300", p, len(dst[p]))
		}
		for i, r := range dst[p] {
			if kafkatest.Seq(r) != int64(i) {
				t.Fatalf("partition %d record %d has seq %d", p, i, kafkatest.Seq(r))
			}
		}
	}
}

func TestAdoptFromMM2(t *testing.T) { kafkatest.EachPair(t, testAdoptFromMM2) }
