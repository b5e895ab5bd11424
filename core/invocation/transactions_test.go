package invocation

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// testTransactionSpansFetches copies a transactional source (aborted
// transactions and commit markers leave gaps in the upstream offsets)
// with a fetch size so small that every fetch brings one source batch: a
// target transaction spans many fetches, its records still land exactly
// once, and its offset syncs follow MM2's rules across the fetches (every
// sync maps a source record to its copy; a sync at every upstream gap and
// at the last record). With aborts, every fourth source transaction is
// aborted; without, the gaps are the commit markers alone.
func testTransactionSpansFetches(t *testing.T, pair kafkatest.Pair, aborts bool) {
	topic := kafkatest.Unique(t, "spans")
	const parts = 2
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	const batches = 40 // source transactions: one batch per partition each
	seq := produceTransactions(t, pair.A, topic, parts, batches, 15, func(txn int) bool { return aborts && txn%4 == 2 })

	a := newApp(t, pair, config.Settings{BatchRecords: 10000},
		"A->B.topics = "+topic,
		// One source batch (15 records, ~1 KiB) per partition and fetch.
		"A.consumer.max.partition.fetch.bytes = 64",
		"A.consumer.fetch.max.bytes = 64")
	sum := reconcileAndMirror(t, a)
	f := sum.Flows[0]
	if f.LagLeft != 0 || f.Records != int64(parts*seq) {
		t.Fatalf("copied %d records, lag left %d; want %d, 0: %+v", f.Records, f.LagLeft, parts*seq, f)
	}
	// One transaction per partition is what should happen; a few more
	// are tolerated (a fetch slower than the wait for it ends a
	// transaction), one per fetch is the bug.
	if f.Transactions > 2*parts {
		t.Fatalf("%d transactions for %d partitions of %d source batches each: transactions do not span fetches", f.Transactions, parts, batches)
	}

	src := kafkatest.ReadAll(t, pair.A, topic)
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	for _, r := range dst {
		if string(r.Value) == "ABORTED" {
			t.Fatalf("aborted record copied: offset %d", r.Offset)
		}
	}
	if err := kafkatest.ExactlyOnce(dst, parts, seq); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.SameRecords(src, dst); err != nil {
		t.Fatal(err)
	}
	if err := checkSyncs(t, pair, topic, src, dst); err != nil {
		t.Fatal(err)
	}
}

// checkSyncs reads the flow's offset syncs for topic and checks each maps
// a source record to its copy, and that the copy of the first record after
// every upstream gap, and the last copied record, have a sync.
func checkSyncs(t *testing.T, pair kafkatest.Pair, topic string, src, dst []*kgo.Record) error {
	t.Helper()
	type at struct {
		p   int32
		off int64
	}
	srcSeq := map[at]int64{}
	for _, r := range src {
		if string(r.Value) != "ABORTED" {
			srcSeq[at{r.Partition, r.Offset}] = kafkatest.Seq(r)
		}
	}
	dstSeq := map[at]int64{}
	for _, r := range dst {
		dstSeq[at{r.Partition, r.Offset}] = kafkatest.Seq(r)
	}
	syncAt := map[at]int64{} // downstream -> upstream
	for _, r := range kafkatest.ReadAll(t, pair.B, "mm2-offset-syncs.A.internal") {
		s, err := offsetsync.DecodeOffsetSync(r.Key, r.Value)
		if err != nil || s.Topic != topic {
			continue
		}
		up, ok := srcSeq[at{s.Partition, s.Upstream}]
		if !ok {
			return fmt.Errorf("offset sync %+v: no committed source record at upstream %d", s, s.Upstream)
		}
		if down, ok := dstSeq[at{s.Partition, s.Downstream}]; !ok || down != up {
			return fmt.Errorf("offset sync %+v maps source seq %d to target seq %d (found %v)", s, up, down, ok)
		}
		syncAt[at{s.Partition, s.Downstream}] = s.Upstream
	}
	srcOff := map[int32]map[int64]int64{} // seq -> source offset
	for k, seq := range srcSeq {
		if srcOff[k.p] == nil {
			srcOff[k.p] = map[int64]int64{}
		}
		srcOff[k.p][seq] = k.off
	}
	for p, recs := range kafkatest.ByPartition(dst) {
		gaps := 0
		for i, r := range recs {
			up := srcOff[p][kafkatest.Seq(r)]
			gap := i > 0 && up-srcOff[p][kafkatest.Seq(recs[i-1])] != 1
			if gap {
				gaps++
			}
			if (i == 0 || gap || i == len(recs)-1) && syncAt[at{p, r.Offset}] != up {
				return fmt.Errorf("partition %d: no offset sync for the copy of source offset %d at %d (first, after a gap, or last)", p, up, r.Offset)
			}
		}
		if gaps == 0 {
			return fmt.Errorf("partition %d: the source has no gaps; the test needs transactions", p)
		}
	}
	return nil
}

// Without aborted transactions on kfake: with fetches this small, kfake
// serves aborted records to read_committed consumers (a real broker does
// not; the real test has them).
func TestTransactionSpansFetchesKfake(t *testing.T) {
	testTransactionSpansFetches(t, kafkatest.Kfake(t), false)
}

func TestTransactionSpansFetchesReal(t *testing.T) {
	testTransactionSpansFetches(t, kafkatest.Real(t), true)
}
