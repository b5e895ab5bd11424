package invocation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// Source records deleted before they were copied stop the partition with
// an error naming the lost offsets; nothing is skipped silently and the
// other partitions go on.
func testSourceDataLost(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "lost")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, topic, 2, 0, 100)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	reconcileAndMirror(t, a)

	kafkatest.ProduceSeq(t, prod, topic, 2, 100, 200)
	var del kadm.Offsets
	del.AddOffset(topic, 0, 150, -1)
	ctx := context.Background()
	resp, err := kafkatest.Admin(t, pair.A).DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	sum, err := a.Mirror(ctx, NewOwner(""))
	wantStopped(t, err, mirror.ErrSourceDataLost, topic, 0)
	if !strings.Contains(err.Error(), "offsets 100..149") {
		t.Fatalf("mirror error = %v, want the lost offsets named", err)
	}
	if sum.Records != 100 {
		t.Fatalf("copied %d records, want partition 1's 100", sum.Records)
	}
	if f := sum.Flows[0]; f.Stopped != 1 {
		t.Fatalf("%d partitions counted stopped, want 1 (the PartitionsStopped metric): %+v", f.Stopped, f)
	}
	dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, "A."+topic))
	if len(dst[0]) != 100 || len(dst[1]) != 200 {
		t.Fatalf("target holds %d and %d records, want 100 (stopped) and 200", len(dst[0]), len(dst[1]))
	}
	// It stays stopped on the next run too, loudly.
	_, err = a.Mirror(ctx, NewOwner(""))
	wantStopped(t, err, mirror.ErrSourceDataLost, topic, 0)

	// The reset policy resumes at the source's earliest offset and names
	// exactly the offsets skipped.
	r := newApp(t, pair, config.Settings{ResetPolicy: config.ResetEarliest}, "A->B.topics = "+topic)
	sum, err = r.Mirror(ctx, NewOwner(""))
	if err != nil {
		t.Fatalf("mirror with MIRROR_RESET_POLICY=earliest: %v", err)
	}
	f := sum.Flows[0]
	if f.Resets != 1 || f.Skipped != 50 || f.Stopped != 0 {
		t.Fatalf("resets %d, skipped %d; want 1 partition, 50 offsets: %+v", f.Resets, f.Skipped, f.Detail)
	}
	for _, d := range f.Detail {
		if d.Partition == 0 && (!strings.Contains(d.Reset, "offsets 100..149") || d.Skipped != 50) {
			t.Errorf("partition 0 detail %+v", d)
		}
	}
	dst = kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, "A."+topic))
	if len(dst[0]) != 150 {
		t.Fatalf("partition 0 holds %d records, want 100 + the 50 after the gap", len(dst[0]))
	}
	for i, r := range dst[0] {
		want := int64(i)
		if i >= 100 {
			want = int64(i + 50)
		}
		if kafkatest.Seq(r) != want {
			t.Fatalf("record %d of partition 0 has seq %d, want %d", i, kafkatest.Seq(r), want)
		}
	}
	if sum, err := r.Mirror(ctx, NewOwner("")); err != nil || sum.Flows[0].Resets != 0 {
		t.Fatalf("after the reset: %v %+v", err, sum)
	}
}

func TestSourceDataLost(t *testing.T) { kafkatest.EachPair(t, testSourceDataLost) }

// A remote partition that already holds records without any mirrorless
// progress (another tool wrote it, or the progress group was deleted) is
// not copied into.
func testForeignRemoteData(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "foreign")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 10)
	kafkatest.CreateTopic(t, pair.B, "A."+topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), "A."+topic, 1, 0, 3)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	sum, err := a.Mirror(context.Background(), NewOwner(""))
	if !errors.Is(err, mirror.ErrForeignRecords) {
		t.Fatalf("mirror error = %v, want a refusal", err)
	}
	if sum.Flows[0].Stopped != 1 {
		t.Fatalf("%d partitions counted stopped, want 1", sum.Flows[0].Stopped)
	}
	if n := len(kafkatest.ReadAll(t, pair.B, "A."+topic)); n != 3 {
		t.Fatalf("remote topic holds %d records, want the 3 that were there", n)
	}
}

func TestForeignRemoteData(t *testing.T) { kafkatest.EachPair(t, testForeignRemoteData) }

// A source topic deleted and recreated under the same name is not
// continued from the old position, even once it holds more records than
// were copied: its offsets mean something else.
func testSourceRecreated(t *testing.T, pair kafkatest.Pair, again int) {
	topic := kafkatest.Unique(t, "recreated")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	reconcileAndMirror(t, a)

	ctx := context.Background()
	adm := kafkatest.Admin(t, pair.A)
	if _, err := adm.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // deletion completes asynchronously on a real broker
		r, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if err == nil && r.Err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("recreate %s: %v %v", topic, err, r.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // producer and admin metadata
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, again)
	rs, err := a.Reconcile(ctx)
	if err != nil || len(rs.Plans[0].Notes) != 1 || !strings.Contains(rs.Plans[0].Notes[0], "was deleted and recreated") {
		t.Fatalf("reconcile does not report the recreation: %v %+v", err, rs.Plans)
	}
	stopped, err := a.Mirror(ctx, NewOwner(""))
	if !errors.Is(err, mirror.ErrSourceRecreated) {
		t.Fatalf("mirror error = %v, want the recreation reported", err)
	}
	if stopped.Flows[0].Stopped != 1 {
		t.Fatalf("%d partitions counted stopped, want 1", stopped.Flows[0].Stopped)
	}
	if n := len(kafkatest.ReadAll(t, pair.B, "A."+topic)); n != 50 {
		t.Fatalf("remote topic holds %d records, want the first topic's 50", n)
	}

	// With the reset policy, the new topic is copied from its start after
	// the old topic's records.
	r := newApp(t, pair, config.Settings{ResetPolicy: config.ResetEarliest}, "A->B.topics = "+topic)
	sum, err := r.Mirror(ctx, NewOwner(""))
	if err != nil || sum.Flows[0].Resets != 1 || sum.Flows[0].Skipped != 0 {
		t.Fatalf("mirror with MIRROR_RESET_POLICY=earliest: %v %+v", err, sum.Flows[0])
	}
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if len(dst) != 50+again {
		t.Fatalf("remote topic holds %d records, want 50 + %d", len(dst), again)
	}
	for i, r := range dst[50:] {
		if kafkatest.Seq(r) != int64(i) {
			t.Fatalf("record %d after the reset has seq %d", 50+i, kafkatest.Seq(r))
		}
	}
}

// Recreated with more records than were copied, and with fewer (then the
// position is past the new end: still claimed and refused, never idle).
func TestSourceRecreatedKfake(t *testing.T) {
	testSourceRecreated(t, kafkatest.Kfake(t), 80)
	testSourceRecreated(t, kafkatest.Kfake(t), 30)
}

func TestSourceRecreatedReal(t *testing.T) {
	pair := kafkatest.Real(t)
	testSourceRecreated(t, pair, 80)
	testSourceRecreated(t, pair, 30)
}
