package kafka

// Tier 3: what a real broker answers a fenced transactional producer, under
// the transaction version the pair runs (2 on Kafka 4.x: KIP-890, the
// epoch is bumped by every EndTxn). docs/hardening.md cites the broker code.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// fencePair is a topic on the real pair's B and the clients of one
// fencing: the old producer with an open transaction holding one record.
type fencePair struct {
	addr, topic, txnID string
	adm                *kadm.Client
	old                *kgo.Client
}

func newFencePair(t *testing.T, ctx context.Context) fencePair {
	t.Helper()
	pair := kafkatest.Real(t)
	f := fencePair{addr: pair.B, topic: kafkatest.Unique(t, "fence"), txnID: kafkatest.Unique(t, "fence-txn"), adm: kafkatest.Admin(t, pair.B)}
	kafkatest.CreateTopic(t, f.addr, f.topic, 1, nil)
	f.old = f.producer(t)
	if err := f.old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := f.old.ProduceSync(ctx, kafkatest.Record(f.topic, 0, 0)).FirstErr(); err != nil {
		t.Fatalf("the old producer's first record: %v", err)
	}
	return f
}

func (f fencePair) producer(t *testing.T) *kgo.Client {
	return kafkatest.Producer(t, f.addr, kgo.TransactionalID(f.txnID), kgo.TransactionTimeout(time.Minute))
}

// state waits until the transactional id's transaction is in one of the
// states and returns it.
func (f fencePair) state(t *testing.T, ctx context.Context, want ...string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ds, err := f.adm.DescribeTransactions(ctx, f.txnID)
		if err != nil {
			t.Fatalf("describe transaction %s: %v", f.txnID, err)
		}
		d, ok := ds[f.txnID]
		if ok && d.Err == nil {
			for _, w := range want {
				if d.State == w {
					return d.State
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s: state %q (err %v), want one of %v", f.txnID, d.State, d.Err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns how many records of the topic are committed.
func (f fencePair) committed(t *testing.T) int {
	return len(kafkatest.ReadAll(t, f.addr, f.topic))
}

func transactionVersion(t *testing.T, ctx context.Context, addr string) int16 {
	t.Helper()
	cl := kafkatest.Producer(t, addr)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("api versions: %v", err)
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "transaction.version" {
			return f.MaxVersionLevel
		}
	}
	return 0
}

// A fenced producer's commit, in the two windows a second producer with
// the same transactional id leaves it. The second producer's
// InitProducerId fences the first: the coordinator bumps the epoch, aborts
// the open transaction and answers CONCURRENT_TRANSACTIONS, and the second
// producer retries to get its own epoch (one more bump).
//
//   - Between the abort and that retry, the old producer's commit carries
//     exactly the stored epoch - 1, which the coordinator takes for the
//     retry of an EndTxn that bumped it, and the commit meets the aborted
//     transaction: INVALID_TXN_STATE. The test holds the second producer
//     in this window by sending its InitProducerId once, by hand.
//   - After it: PRODUCER_FENCED.
//
// Both are fenced commits; kafka.Commit marks the first with
// ErrCommitAborted, which the fenced-error classifier counts (the
// INVALID_TXN_STATE of the flake seen in TestConcurrentSameEvent). Nothing
// of the old producer's transaction is committed in either.
func TestFencedCommitReal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("before the new producer retries", func(t *testing.T) {
		f := newFencePair(t, ctx)
		if v := transactionVersion(t, ctx, f.addr); v < 2 {
			t.Fatalf("the pair runs transaction.version %d; this test is about version 2 (Kafka 4.x's default)", v)
		}
		raw := kafkatest.Producer(t, f.addr)
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &f.txnID
		req.TransactionTimeoutMillis = 60_000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatalf("the new producer's InitProducerId: %v", err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.ConcurrentTransactions) {
			t.Fatalf("the new producer's InitProducerId over an open transaction: got %v, want CONCURRENT_TRANSACTIONS (fenced, abort begun)", err)
		}
		t.Logf("transaction state after the fencing abort: %s", f.state(t, ctx, "PrepareAbort", "CompleteAbort"))
		err = Commit(ctx, f.old)
		if !errors.Is(err, kerr.InvalidTxnState) || !errors.Is(err, ErrCommitAborted) {
			t.Fatalf("the fenced producer's commit: got %v, want INVALID_TXN_STATE marked ErrCommitAborted", err)
		}
		t.Logf("the fenced producer's commit: %v", err)
		if n := f.committed(t); n != 0 {
			t.Errorf("%d records committed, want 0: the fenced transaction was aborted", n)
		}
	})

	t.Run("after the new producer retried", func(t *testing.T) {
		f := newFencePair(t, ctx)
		newer := f.producer(t)
		if _, _, err := newer.ProducerID(ctx); err != nil {
			t.Fatalf("the new producer's InitProducerId: %v", err)
		}
		f.state(t, ctx, "Empty")
		err := Commit(ctx, f.old)
		if !errors.Is(err, kerr.ProducerFenced) || errors.Is(err, ErrCommitAborted) {
			t.Fatalf("the fenced producer's commit: got %v, want PRODUCER_FENCED", err)
		}
		t.Logf("the fenced producer's commit: %v", err)
		// The new producer owns the id: its transaction commits.
		if err := newer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := newer.ProduceSync(ctx, kafkatest.Record(f.topic, 0, 1)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := Commit(ctx, newer); err != nil {
			t.Fatalf("the new producer's commit: %v", err)
		}
		if n := f.committed(t); n != 1 {
			t.Errorf("%d records committed, want the new producer's 1", n)
		}
	})

	t.Run("produce after the new producer retried", func(t *testing.T) {
		f := newFencePair(t, ctx)
		if _, _, err := f.producer(t).ProducerID(ctx); err != nil {
			t.Fatalf("the new producer's InitProducerId: %v", err)
		}
		err := f.old.ProduceSync(ctx, kafkatest.Record(f.topic, 0, 1)).FirstErr()
		if !errors.Is(err, kerr.InvalidProducerEpoch) {
			t.Fatalf("the fenced producer's produce: got %v, want INVALID_PRODUCER_EPOCH", err)
		}
		t.Logf("the fenced producer's produce: %v", err)
	})
}
