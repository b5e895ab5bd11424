package mirror

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// On a target before KIP-890 part 2 (Kafka 3.x: every group transaction
// adds the progress group by a raw AddOffsetsToTxn, and kgo registers a
// partition by AddPartitionsToTxn before producing to it), a group
// transaction whose records all failed before any partition was
// registered (here the remote topic deleted under the run: kgo fails its
// records on the client, UNKNOWN_TOPIC_OR_PARTITION) was begun on the
// coordinator by the AddOffsetsToTxn alone, and kgo's EndTransaction ends
// nothing (it ends only transactions it added a partition to). The run
// must leave no transaction of its group Ongoing. With a second topic in
// the group ("kept"), kgo did register its partitions and abort the
// transaction, and the raw EndTxn after it is a retry of that abort: the
// group goes on and copies the kept topic exactly once. kfake capped at
// Kafka 3.5's request versions: the real pair is Kafka 4 (transaction
// version 2, where kgo aborts such a transaction itself).
func TestOldTargetNoTxnLeftOngoing(t *testing.T) {
	for _, withKept := range []bool{false, true} {
		name := "gone"
		if withKept {
			name = "gone_and_kept"
		}
		t.Run(name, func(t *testing.T) {
			pair, _, _ := kafkatest.KfakeClusters(t, kfake.MaxVersions(kversion.V3_5_0()))
			const n = 20
			gone, kept := kafkatest.Unique(t, "oldgone"), kafkatest.Unique(t, "oldkept")
			topics := []string{gone}
			if withKept {
				topics = append(topics, kept)
			}
			prod := kafkatest.Producer(t, pair.A)
			for _, topic := range topics {
				kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
				kafkatest.ProduceSeq(t, prod, topic, 1, 0, n)
			}
			sa, ta := uniqueFlow()
			m := flowMirror(t, pair, sa, ta, "oldgone", sa+"->"+ta+".topics = "+strings.Join(topics, ", "))
			m.Settings.Groups = 1
			del := &deleteAtFetch{adm: kafkatest.Admin(t, pair.B), topic: sa + "." + gone}
			m.SourceOpts = append(m.SourceOpts, kgo.WithHooks(del))

			res, err := m.Run(context.Background(), time.Now().Add(20*time.Second))
			t.Logf("run: %v, %+v", err, res.Detail)
			if deleted, derr := del.result(); derr != nil || !deleted {
				t.Fatalf("the remote topic %s was not deleted under the run (%v, %v)", del.topic, deleted, derr)
			}
			if m.offsetsImplicit {
				t.Fatal("the target adds the progress group implicitly: not a target before KIP-890 part 2")
			}
			if len(res.Detail) != len(topics) {
				t.Fatalf("run: %+v; want %d partitions", res.Detail, len(topics))
			}
			for _, d := range res.Detail {
				switch {
				case d.Topic == gone && d.Status != UnitFailed:
					t.Errorf("%s: %s (%s); want it failed by its deleted remote topic", d.Topic, d.Status, d.Error)
				case d.Topic == kept && (d.Status != UnitDone || d.Records != n):
					t.Errorf("%s: %s (%s), %d records; want done with all %d", d.Topic, d.Status, d.Error, d.Records, n)
				}
			}
			if open := groupTxnsOngoing(t, m); len(open) > 0 {
				t.Errorf("after the run, transactions %v are Ongoing on the target; want none", open)
			}
			if withKept {
				if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+kept), 1, n); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
