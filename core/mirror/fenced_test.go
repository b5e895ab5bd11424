package mirror

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// fenceAt is a producer hook that fences a work group's transactional id,
// from another client, when the at-th record of the group's partitions of
// topic is buffered: the writer's transaction open then is aborted, and
// its producer can commit nothing more (as another invocation's
// InitProducerID of the same id does).
type fenceAt struct {
	topic string
	at    int
	group func(partition int32) int
	fence func(group int) error

	mu   sync.Mutex
	n    map[int]int
	sent map[int]error
}

func (f *fenceAt) OnProduceRecordBuffered(r *kgo.Record) {
	if r.Topic != f.topic {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(r.Partition)
	f.n[g]++
	if f.n[g] == f.at {
		f.sent[g] = f.fence(g)
	}
}

// Issue 17: one fence stops every partition of a work group, and
// Result.Fenced counts work groups whose run another invocation fenced,
// not partitions. Two work groups of three partitions each are both
// fenced mid-copy: the run reports Fenced 2 (counted per partition it was
// 6). Each fence is another producer's InitProducerID of the group's
// transactional id (mirrorless.<flow>.~group.<g>), sent from a hook of the
// run's producer when the group's 110th record is buffered, in its third
// transaction (the first two, of 50 records, committed). The next run
// copies the rest exactly once.
func testFencedCountsGroups(t *testing.T, pair kafkatest.Pair) {
	const partitions, records, k = 6, 200, 2
	src := kafkatest.Unique(t, "fencedgroups")
	kafkatest.CreateTopic(t, pair.A, src, partitions, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), src, partitions, 0, records)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	remote := sa + "." + src
	perGroup := map[int]int{}
	for p := range int32(partitions) {
		perGroup[groupOf(src, p, k)]++
	}
	if len(perGroup) != k || perGroup[0] < 2 || perGroup[1] < 2 {
		t.Fatalf("partitions per work group: %v; want several in each of %d", perGroup, k)
	}

	m := flowMirror(t, pair, sa, ta, "fenced", props...)
	m.Groups = k
	m.Settings.BatchRecords = 50
	other, err := kgo.NewClient(kgo.SeedBrokers(pair.B))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	hook := &fenceAt{topic: remote, at: 110, n: map[int]int{}, sent: map[int]error{},
		group: func(p int32) int { return groupOf(src, p, k) },
		fence: func(g int) error {
			return kafka.Fence(context.Background(), other, []string{m.groupTxnID(g)}, int32(m.Settings.TransactionTimeout.Milliseconds()))
		}}
	m.TargetOpts = append(m.TargetOpts, kgo.WithHooks(hook))

	res := m.testRun(t)
	hook.mu.Lock()
	sent, buffered := maps.Clone(hook.sent), maps.Clone(hook.n)
	hook.mu.Unlock()
	for g := range k {
		if err, ok := sent[g]; !ok || err != nil {
			t.Fatalf("fence of group %d: sent %v, %v (%d records buffered); %+v", g, ok, err, buffered[g], res)
		}
	}
	fenced := map[int]int{}
	for _, d := range res.Detail {
		if d.Status == UnitFenced {
			fenced[d.Group]++
		}
	}
	t.Logf("run: %d records copied, %d transactions, partitions fenced per group %v, Fenced %d", res.Records, res.Transactions, fenced, res.Fenced)
	for g := range k {
		if fenced[g] != perGroup[g] {
			t.Fatalf("group %d: %d of its %d partitions ended fenced: %+v; want all stopped by its fence", g, fenced[g], perGroup[g], res.Detail)
		}
	}
	if res.Fenced != k {
		t.Errorf("Result.Fenced = %d with %d work groups fenced (%d partitions); want %d", res.Fenced, k, partitions, k)
	}
	if res.Records == 0 || res.Records >= partitions*records {
		t.Errorf("the fenced run copied %d records; want some, not all, of %d (fenced mid-copy)", res.Records, partitions*records)
	}

	after := flowMirror(t, pair, sa, ta, "after", props...)
	if res := after.testRun(t); res.Fenced != 0 {
		t.Errorf("the next run was fenced: %+v", res)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, remote), partitions, records); err != nil {
		t.Error(err)
	}
}

func TestFencedCountsGroups(t *testing.T) { kafkatest.EachPair(t, testFencedCountsGroups) }
