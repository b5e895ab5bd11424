package invocation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MIRROR_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newApp(t testing.TB, pair kafkatest.Pair, s config.Settings, extra ...string) *Invoker {
	t.Helper()
	s.PropertiesFile = kafkatest.Properties(t, pair, extra...)
	return newAppFrom(t, s)
}

// newAppFrom builds an Invoker from settings naming a properties file, with
// test defaults for the rest.
func newAppFrom(t testing.TB, s config.Settings) *Invoker {
	t.Helper()
	s = kafkatest.Settings(t, s)
	cfg, err := s.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), s, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func reconcileAndMirror(t testing.TB, a *Invoker) *MirrorSummary {
	t.Helper()
	ctx := context.Background()
	rs, err := a.Reconcile(ctx)
	if err != nil {
		t.Fatalf("reconcile: %v (%+v)", err, rs)
	}
	if os.Getenv("MIRROR_TEST_VERBOSE") != "" {
		for _, p := range rs.Plans {
			t.Logf("reconcile plan %+v", *p)
		}
	}
	sum, err := a.Mirror(ctx, NewOwner(""))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	return sum
}

// testFidelity copies records with nil keys, tombstones, empty values,
// duplicate headers and old timestamps, and checks the copy record by
// record; then appends more and checks the second run resumes exactly.
func testFidelity(t *testing.T, pair kafkatest.Pair, perPartition int) {
	topic := kafkatest.Unique(t, "fidelity")
	const parts = 4
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, topic, parts, 0, perPartition/2)

	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	sum := reconcileAndMirror(t, a)
	if sum.Records != int64(parts*(perPartition/2)) || sum.LagLeft != 0 {
		t.Fatalf("first run copied %d records, lag %d; want %d, 0: %+v", sum.Records, sum.LagLeft, parts*(perPartition/2), sum.Flows[0])
	}
	kafkatest.ProduceSeq(t, prod, topic, parts, perPartition/2, perPartition)
	sum = reconcileAndMirror(t, a)
	if want := int64(parts * (perPartition - perPartition/2)); sum.Records != want {
		t.Fatalf("second run copied %d records, want %d", sum.Records, want)
	}
	src := kafkatest.ReadAll(t, pair.A, topic)
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if err := kafkatest.SameRecords(src, dst); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.ExactlyOnce(dst, parts, perPartition); err != nil {
		t.Fatal(err)
	}
	idle(t, a)
}

// idle checks that runs with nothing to copy copy nothing, and settle to
// claiming nothing. Right after a commit a run may still see the previous
// position (the commit's markers are written just after EndTxn returns):
// it then claims the unit, finds it caught up, and lets it go.
func idle(t *testing.T, a *Invoker) {
	t.Helper()
	for i := 0; ; i++ {
		sum := reconcileAndMirror(t, a)
		if sum.Records != 0 {
			t.Fatalf("idle run copied %d records", sum.Records)
		}
		if sum.UnitsClaimed == 0 {
			return
		}
		if i == 20 {
			t.Fatalf("idle runs still claim %d units", sum.UnitsClaimed)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFidelityKfake(t *testing.T) { testFidelity(t, kafkatest.Kfake(t), 400) }

func TestFidelityReal(t *testing.T) { testFidelity(t, kafkatest.Real(t), 5000) }

// testTransactionalSource: aborted source transactions are never copied,
// and their markers (control records) do not leave lag behind.
func testTransactionalSource(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "txnsrc")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	seq := produceTransactions(t, pair.A, topic, 2, 20, 10, func(txn int) bool { return txn%3 == 1 })
	a := newApp(t, pair, config.Settings{}, "A->B.topics = "+topic)
	sum := reconcileAndMirror(t, a)
	if sum.LagLeft != 0 {
		t.Fatalf("lag left %d after copying a transactional source: %+v", sum.LagLeft, sum.Flows[0])
	}
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	for _, r := range dst {
		if string(r.Value) == "ABORTED" {
			t.Fatalf("aborted record copied: offset %d", r.Offset)
		}
	}
	if err := kafkatest.ExactlyOnce(dst, 2, seq); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.SameRecords(kafkatest.ReadAll(t, pair.A, topic), dst); err != nil {
		t.Fatal(err)
	}
	// The trailing commit markers were covered: later runs have no work.
	idle(t, a)
}

// produceTransactions writes txns source transactions of perTxn records
// per partition, aborting those abort says (their records hold the value
// "ABORTED" and no sequence number), and returns the number of committed
// records per partition (their sequence numbers are 0 up to it).
func produceTransactions(t *testing.T, addr, topic string, parts int32, txns, perTxn int, abort func(txn int) bool) (seq int) {
	t.Helper()
	prod := kafkatest.Producer(t, addr, kgo.TransactionalID(topic+"-producer"))
	ctx := context.Background()
	for txn := 0; txn < txns; txn++ {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		commit := !abort(txn)
		var recs []*kgo.Record
		for i := 0; i < perTxn; i++ {
			for p := int32(0); p < parts; p++ {
				r := kafkatest.Record(topic, p, seq)
				if !commit {
					r = kafkatest.Record(topic, p, -1)
					r.Value = []byte("ABORTED")
				}
				recs = append(recs, r)
			}
			if commit {
				seq++
			}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	return seq
}

func TestTransactionalSource(t *testing.T) { kafkatest.EachPair(t, testTransactionalSource) }

// An idle partition's position is re-committed before the broker's offset
// retention could expire it; nothing is copied again.
func testIdleProgressRefresh(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "idle")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 0, 20)
	a := newApp(t, pair, config.Settings{ProgressRefresh: time.Hour}, "A->B.topics = "+topic)
	reconcileAndMirror(t, a)
	idle(t, a) // within the refresh period
	a.Settings.ProgressRefresh = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	sum := reconcileAndMirror(t, a)
	// Both positions re-committed: one transaction per work group (one
	// when both partitions share a group).
	f := sum.Flows[0]
	if sum.UnitsClaimed != 2 || sum.Records != 0 || f.Transactions < 1 || f.Transactions > 2 || len(f.Detail) != 2 ||
		f.Detail[0].Transactions != 1 || f.Detail[1].Transactions != 1 {
		t.Fatalf("refresh run: %+v", f)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), 2, 20); err != nil {
		t.Fatal(err)
	}
}

func TestIdleProgressRefresh(t *testing.T) { kafkatest.EachPair(t, testIdleProgressRefresh) }

// wantStopped fails unless err says that the mirror stopped the source
// partition topic/partition for the reason kind (mirror.ErrSourceDataLost,
// ...), found through errors.Is and errors.As rather than in the text.
func wantStopped(t *testing.T, err error, kind error, topic string, partition int32) {
	t.Helper()
	var ue *mirror.UnitError
	if !errors.Is(err, mirror.ErrUnitsFailed) || !errors.Is(err, mirror.ErrPartitionStopped) || !errors.Is(err, kind) ||
		!errors.As(err, &ue) || ue.Topic != topic || ue.Partition != partition {
		t.Fatalf("mirror error = %v, want %s/%d stopped: %v", err, topic, partition, kind)
	}
}
