package invocation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// Taking over from a MirrorMaker 2 that died before its first offset flush
// (issue 16 item 6): its copy is on the target, mm2-offsets holds nothing
// for the topic. MM2-shaped data, written here rather than by a real MM2:
// partition 0 copied at least once (a replay of 20 records after a
// restart, as MM2 does from its last flushed offset), partition 1 copied
// plainly, partition 2 ending with a record the source holds twice. adopt
// finds each remote partition's last record on the source from its log
// start; after -apply the mirror continues with nothing copied twice past
// MM2's copy and nothing skipped. The ambiguous partition is refused.
func testAdoptUnrecorded(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	topic := kafkatest.Unique(t, "unrecorded")
	remote := "A." + topic
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 300)
	twice := &kgo.Record{Topic: topic, Partition: 2, Key: []byte("same"), Value: []byte("twice"), Timestamp: time.UnixMilli(1_600_000_000_000)}
	src := kafkatest.Producer(t, pair.A)
	for i := 0; i < 2; i++ {
		r := *twice
		if err := src.ProduceSync(ctx, &r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	var copies []*kgo.Record
	for i := 0; i < 150; i++ {
		copies = append(copies, kafkatest.Record(remote, 0, i))
		if i == 119 {
			for j := 100; j < 120; j++ { // replayed after a restart
				copies = append(copies, kafkatest.Record(remote, 0, j))
			}
		}
	}
	for i := 0; i < 200; i++ {
		copies = append(copies, kafkatest.Record(remote, 1, i))
	}
	for i := 0; i < 10; i++ {
		copies = append(copies, kafkatest.Record(remote, 2, i))
	}
	copies = append(copies, &kgo.Record{Topic: remote, Partition: 2, Key: twice.Key, Value: twice.Value, Timestamp: twice.Timestamp})
	if err := kafkatest.Producer(t, pair.B).ProduceSync(ctx, copies...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	plan, err := a.Adopt(ctx, false)
	if err == nil || !strings.Contains(err.Error(), "cannot tell which one") {
		t.Fatalf("adopt plan: want partition 2 refused as ambiguous, got %v", err)
	}
	got := map[int32]int64{}
	for _, r := range plan.Flows["A->B"] {
		got[r.Partition] = r.Next
		if r.Partition < 2 && (r.Action != "adopt" || r.MM2Offset != -1) {
			t.Errorf("plan %+v", r)
		}
	}
	if got[0] != 150 || got[1] != 200 || got[2] != -1 {
		t.Fatalf("adopt would continue at %v, want 150, 200 and none", got)
	}
	if _, err := a.Adopt(ctx, true); err == nil {
		t.Fatal("partition 2 was not refused")
	}
	_, err = a.Mirror(ctx, NewOwner(""))
	wantStopped(t, err, mirror.ErrForeignRecords, topic, 2)
	// After MM2's copy (its replay included), every source record once.
	dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, remote))
	for p, c := range map[int32]struct{ copied, next int }{0: {170, 150}, 1: {200, 200}} {
		rest := dst[p][c.copied:]
		if len(rest) != 300-c.next {
			t.Fatalf("partition %d: %d records after MM2's copy, want %d", p, len(rest), 300-c.next)
		}
		for i, r := range rest {
			if want := int64(c.next + i); kafkatest.Seq(r) != want {
				t.Fatalf("partition %d: record %d after MM2's copy has seq %d, want %d", p, i, kafkatest.Seq(r), want)
			}
		}
	}
}

func TestAdoptUnrecorded(t *testing.T) { kafkatest.EachPair(t, testAdoptUnrecorded) }
