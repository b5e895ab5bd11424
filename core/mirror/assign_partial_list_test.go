package mirror

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/names"
)

// The assignment entry is lost, so the next change asks the target which
// group ids it knows (ListTransactions, which each Kafka broker answers
// with the ids it coordinates), and one broker does not answer: it is
// loading its transaction state (COORDINATOR_LOAD_IN_PROGRESS), and it
// coordinates group 2 of the three the flow had. The change must not go
// on from the other brokers' lists: it would fence groups 0 and 1 only,
// and a writer of group 2 still running under the lost assignment would
// copy next to the new groups' writers. kfake lists every id on every
// broker, so the other brokers' answers are cut to what Kafka would give.
func TestAssignmentLostPartialList(t *testing.T) {
	ctx := context.Background()
	pair, _, b := kafkatest.KfakeClusters(t, kfake.NumBrokers(3))
	src := kafkatest.Unique(t, "partial")
	kafkatest.CreateTopic(t, pair.A, src, 6, nil)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, "partial", sa+"->"+ta+".topics = "+src)
	p, _ := m.testPlanSettled(t, 3) // its fence leaves ids 0..2 known to the target
	resp, err := m.TargetAdmin.DeleteGroups(ctx, names.AssignmentGroup(m.Flow.Name()))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}

	// kgo retries a broker's COORDINATOR_LOAD_IN_PROGRESS 20 times
	// (about 25 s) before it reports it; two are enough here.
	cl, err := kgo.NewClient(append(m.TargetOpts, kgo.RequestRetries(2))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	m.TargetAdmin = kadm.NewClient(cl)

	loading := b.ListenAddrs()[0]
	var down atomic.Bool
	down.Store(true)
	var cut atomic.Int32
	b.ControlKey(int16(kmsg.ListTransactions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		cut.Add(1)
		r := req.(*kmsg.ListTransactionsRequest)
		out := r.ResponseKind().(*kmsg.ListTransactionsResponse)
		if b.CurrentNode() == 0 {
			out.ErrorCode = kerr.CoordinatorLoadInProgress.Code
			return out, nil, true
		}
		for g := range 2 {
			s := kmsg.NewListTransactionsResponseTransactionState()
			s.TransactionalID = names.GroupTransactionalID(m.Flow.Name(), g)
			s.ProducerID = int64(1000 + g)
			s.TransactionState = "Empty"
			out.TransactionStates = append(out.TransactionStates, s)
		}
		return out, nil, true
	})
	a, err := m.settle(ctx, 1, p.OffsetSyncsID, nil)
	if cut.Load() == 0 {
		t.Fatalf("ListTransactions was never asked (%+v, %v): the lost-entry path was not exercised", a, err)
	}
	if err == nil {
		t.Fatalf("with broker 0 (%s) not answering, the change went on: %+v, fencing %d group ids; want an error (group 2's writer would stay unfenced)", loading, a, a.Used)
	}
	if !strings.Contains(err.Error(), "list the target's transactional ids") {
		t.Errorf("error %q; want it to name the listing", err)
	}
	if got, ok, rerr := m.readAssignment(ctx); rerr != nil || (ok && got.Ready) {
		t.Errorf("after the refused change the entry is %+v (found %v, err %v); want none ready", got, ok, rerr)
	}
	t.Logf("refused: %v", err)

	down.Store(false)
	a, err = m.settle(ctx, 1, p.OffsetSyncsID, nil)
	if err != nil || a.Used < 3 || !a.Ready {
		t.Fatalf("once every broker answers: %+v, %v; want a ready change fencing the 3 group ids the target knows", a, err)
	}
}
