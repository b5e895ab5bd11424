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

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// deleteSourceRecords deletes partition's records of topic before
// offset at on m's source (DeleteRecords).
func deleteSourceRecords(t *testing.T, m *Mirror, topic string, partition int32, at int64) {
	t.Helper()
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: topic, Partition: partition, At: at})
	if resp, err := m.SourceAdmin.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete source records: %v, %v", err, resp.Error())
	}
}

// resetCase is a partition whose next records were deleted before they
// were copied: a mirror of a flow of its own (one work group) copied
// 0..9 of a one-partition topic, 10..14 were produced and deleted, and
// the mirror's reset policy is now earliest, so its next run resets the
// partition to 15 (anchored) and reports 5 offsets skipped.
type resetCase struct {
	m    *Mirror
	prod *kgo.Client // the source's producer
	src  string      // the source topic
	u    lease.Unit  // its remote partition, as progress names it
}

func newResetCase(t *testing.T, pair kafkatest.Pair, name string) resetCase {
	t.Helper()
	src := kafkatest.Unique(t, name)
	kafkatest.CreateTopic(t, pair.A, src, 1, nil)
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, src, 1, 0, 10)
	sa, ta := uniqueFlow()
	m := flowMirror(t, pair, sa, ta, name, sa+"->"+ta+".topics = "+src)
	m.Settings.Groups = 1
	if res := m.testRun(t); res.Records != 10 {
		t.Fatalf("first run copied %d records; want 10", res.Records)
	}
	kafkatest.ProduceSeq(t, prod, src, 1, 10, 15)
	deleteSourceRecords(t, m, src, 0, 15)
	m.Settings.ResetPolicy = config.ResetEarliest
	return resetCase{m: m, prod: prod, src: src, u: lease.Unit{Topic: sa + "." + src, Partition: 0}}
}

// noteGroupAnchor makes b note when a work group commits an anchor (an
// EndTxn commit of a ~group id): the returned flag is set from then on.
func noteGroupAnchor(b *kfake.Cluster) *atomic.Bool {
	anchored := new(atomic.Bool)
	b.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		if r := req.(*kmsg.EndTxnRequest); r.Commit && strings.Contains(r.TransactionalID, ".~group.") {
			anchored.Store(true)
		}
		return nil, nil, false
	})
	return anchored
}

// stallGroupInitAfterAnchor makes b answer a work group's InitProducerID
// CONCURRENT_TRANSACTIONS (the target still completing the group's
// anchor) once the group has committed an anchor and while busy is set
// (it starts set). answered says whether one was so answered.
func stallGroupInitAfterAnchor(b *kfake.Cluster) (busy, answered *atomic.Bool) {
	anchored := noteGroupAnchor(b)
	busy, answered = new(atomic.Bool), new(atomic.Bool)
	busy.Store(true)
	b.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if !anchored.Load() || !busy.Load() || r.TransactionalID == nil || !strings.Contains(*r.TransactionalID, ".~group.") {
			return nil, nil, false
		}
		answered.Store(true)
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.ConcurrentTransactions.Code
		return resp, nil, true
	})
	return busy, answered
}
