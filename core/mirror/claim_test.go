package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// A work group some of whose partitions another invocation holds is
// passed over: initialising the group's id would fence that invocation's
// transactions (issue 17). Once the other lets go, the group is copied.
func testGroupHeldPassedOver(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "held")
	kafkatest.CreateTopic(t, pair.A, src, 3, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, 3, 0, 10)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "me", sa+"->"+ta+".topics = "+src)
	m.Groups = 1
	other := &lease.Store{Admin: m.TargetAdmin, Group: names.LeaseGroup(m.Flow.Name()), Owner: "other"}
	held := []lease.Unit{{Topic: sa + "." + src, Partition: 1}}
	if got, err := other.Claim(ctx, held, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("the other invocation's lease: %v %v", got, err)
	}
	if res := m.testRun(t); res.UnitsClaimed != 0 || res.Records != 0 || res.Fenced != 0 {
		t.Fatalf("run while another holds part of the group: claimed %d, copied %d, fenced %d; want the group passed over", res.UnitsClaimed, res.Records, res.Fenced)
	}
	if err := other.Release(ctx, held); err != nil {
		t.Fatal(err)
	}
	if res := m.testRun(t); res.Records != 30 {
		t.Fatalf("run after the other let go copied %d records, want 30", res.Records)
	}
}

func TestGroupHeldPassedOver(t *testing.T) { kafkatest.EachPair(t, testGroupHeldPassedOver) }

// A record larger than 256 KiB (below the broker's default 1 MB limit) is
// copied: a 256 KiB producer batch cap refused it on the client and
// stopped its partition.
func testLargeRecordCopied(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src := kafkatest.Unique(t, "large")
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	value := make([]byte, 300<<10)
	for i := range value {
		value[i] = byte(i)
	}
	prod := kafkatest.Producer(t, pair.A)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: src, Partition: 0, Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "large", sa+"->"+ta+".topics = "+src)
	if res := m.testRun(t); res.Records != 1 {
		t.Fatalf("copied %d records, want the 300 KiB one", res.Records)
	}
	got := kafkatest.ReadAll(t, pair.B, sa+"."+src)
	if len(got) != 1 || len(got[0].Value) != len(value) {
		t.Fatalf("target holds %d records; want the 300 KiB one", len(got))
	}
}

func TestLargeRecordCopied(t *testing.T) { kafkatest.EachPair(t, testLargeRecordCopied) }
