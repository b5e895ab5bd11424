package invocation

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// hostileMetadata are progress entries mirrorless never writes: another
// tool's metadata, none at all (kafka-consumer-groups --reset-offsets), an
// unknown format version, a field that is not a number, and offsets that
// contradict each other.
var hostileMetadata = []struct{ name, meta string }{
	{"foreign", "some other tool was here"},
	{"empty", ""},
	{"version2", "mirrorless/v2 up=10 down=10 t=1700000000000"},
	{"not-a-number", "mirrorless/v1 up=ten down=10 t=1700000000000"},
	{"up-past-position", "mirrorless/v1 up=500 down=10 t=1700000000000"},
	{"truncated", "mirrorless/v1 up=4"},
}

// captureDefaultLog sends the default slog logger (which the progress
// reader logs skipped entries to) into a buffer for the test.
func captureDefaultLog(t *testing.T) *kafkatest.SyncBuffer {
	buf := &kafkatest.SyncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

// commitProgress writes a hostile entry into the flow's progress group, as
// anyone with access to the target's consumer groups could.
func commitHostileProgress(t *testing.T, addr, topic string, partition int32, at int64, meta string) {
	t.Helper()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1, Metadata: meta})
	resp, err := kafkatest.Admin(t, addr).CommitOffsets(context.Background(), "mirrorless.A->B.progress", os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit hostile progress: %v", err)
	}
}

// A progress entry that mirrorless did not write is skipped with a log
// line, never trusted: here it points back to offset 0 of a remote
// partition that already holds 50 copied records. Trusting it would copy
// them twice; the partition instead stops with the refusal to copy into a
// remote partition without progress, and the other partition goes on.
func TestHostileProgressNotTrusted(t *testing.T) {
	for _, h := range hostileMetadata {
		t.Run(h.name, func(t *testing.T) {
			logs := captureDefaultLog(t)
			pair := kafkatest.Kfake(t)
			topic := kafkatest.Unique(t, "hostile")
			kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
			prod := kafkatest.Producer(t, pair.A)
			kafkatest.ProduceSeq(t, prod, topic, 2, 0, 50)
			a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
			reconcileAndMirror(t, a)

			commitHostileProgress(t, pair.B, "A."+topic, 0, 0, h.meta)
			kafkatest.ProduceSeq(t, prod, topic, 2, 50, 60)
			sum, err := a.Mirror(context.Background(), NewOwner(""))
			wantStopped(t, err, mirror.ErrForeignRecords, topic, 0)
			if sum.Records != 10 {
				t.Fatalf("copied %d records, want partition 1's 10", sum.Records)
			}
			dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, "A."+topic))
			if err := kafkatest.ExactlyOnce(dst[0], 1, 50); err != nil {
				t.Fatalf("partition 0 after the hostile entry: %v", err)
			}
			if n := len(dst[1]); n != 60 {
				t.Fatalf("partition 1 holds %d records, want 60", n)
			}
			if l := logs.String(); !strings.Contains(l, "progress entry ignored") || !strings.Contains(l, "topic=A."+topic) {
				t.Fatalf("no log line for the skipped entry; logged:\n%s", l)
			}
		})
	}
}

// A hostile entry for a partition nothing was copied to yet, pointing past
// the start: trusted, it would silently skip offsets 0..29. It is skipped
// instead, and the partition is copied from the start, exactly once.
func TestHostileProgressSkipsNothing(t *testing.T) {
	logs := captureDefaultLog(t)
	pair := kafkatest.Kfake(t)
	topic := kafkatest.Unique(t, "hostile-fresh")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	commitHostileProgress(t, pair.B, "A."+topic, 0, 30, "mirrorless/v1 up=29 down=29 t=notatime")
	if sum := reconcileAndMirror(t, a); sum.Records != 50 {
		t.Fatalf("copied %d records, want all 50", sum.Records)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), 1, 50); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "progress entry ignored") {
		t.Fatalf("no log line for the skipped entry; logged:\n%s", logs.String())
	}
	// The run replaced the hostile entry with its own: the next run
	// resumes from it and copies nothing.
	if sum := reconcileAndMirror(t, a); sum.Records != 0 {
		t.Fatalf("second run copied %d records", sum.Records)
	}
}
