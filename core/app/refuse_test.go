package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/localtest/kafkatest"
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
	if !errors.Is(err, mirror.ErrUnitsFailed) || !strings.Contains(err.Error(), "source data lost: offsets 100..149") {
		t.Fatalf("mirror error = %v, want the lost offsets named", err)
	}
	if sum.Records != 100 {
		t.Fatalf("copied %d records, want partition 1's 100", sum.Records)
	}
	dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, "A."+topic))
	if len(dst[0]) != 100 || len(dst[1]) != 200 {
		t.Fatalf("target holds %d and %d records, want 100 (stopped) and 200", len(dst[0]), len(dst[1]))
	}
}

func TestSourceDataLostKfake(t *testing.T) { testSourceDataLost(t, kafkatest.Kfake(t)) }

func TestSourceDataLostReal(t *testing.T) { testSourceDataLost(t, kafkatest.Real(t)) }

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
	_, err := a.Mirror(context.Background(), NewOwner(""))
	if err == nil || !strings.Contains(err.Error(), "already holds records but has no mirrorless progress") {
		t.Fatalf("mirror error = %v, want a refusal", err)
	}
	if n := len(kafkatest.ReadAll(t, pair.B, "A."+topic)); n != 3 {
		t.Fatalf("remote topic holds %d records, want the 3 that were there", n)
	}
}

func TestForeignRemoteDataKfake(t *testing.T) { testForeignRemoteData(t, kafkatest.Kfake(t)) }

func TestForeignRemoteDataReal(t *testing.T) { testForeignRemoteData(t, kafkatest.Real(t)) }
