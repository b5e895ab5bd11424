package invocation

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// A commit whose outcome the mirror cannot know is settled by fencing and
// re-reading the committed position: nothing is lost or copied twice,
// whether the commit landed or not. kfake is used because a real broker
// cannot be made to do either on demand.
func TestUnknownCommitOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		// arm makes the second EndTxn's outcome unknown to the client.
		arm func(b *kfake.Cluster, d *kafkatest.ResponseDropper)
		// records the first run must count: 200 when the held commit
		// landed, 100 when it did not.
		want int64
	}{
		{"landed", func(b *kfake.Cluster, d *kafkatest.ResponseDropper) {
			// Processed by the broker; the response arrives after the
			// client's end timeout (2s) has passed.
			d.Delay = 2500 * time.Millisecond
			// Armed while the first EndTxn is handled, it takes the next
			// one the connection reads: the second transaction's.
			b.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
				if !groupTxn(req) {
					b.KeepControl() // the work-group assignment's
					return nil, nil, false
				}
				d.Drop(int16(kmsg.EndTxn), 1)
				return nil, nil, false
			})
		}, 200},
		{"lost", func(b *kfake.Cluster, _ *kafkatest.ResponseDropper) {
			// Held past the client's end timeout, then dropped unprocessed.
			var n atomic.Int32
			b.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
				if !groupTxn(req) || n.Add(1) != 2 {
					b.KeepControl()
					return nil, nil, false
				}
				wake := time.Now().Add(2500 * time.Millisecond)
				b.SleepControl(func() { time.Sleep(time.Until(wake)) })
				return nil, errors.New("connection lost before the commit"), true
			})
		}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropper := kafkatest.NewResponseDropper()
			pair, _, b := kafkatest.KfakeClusters(t, kfake.ListenFn(dropper.Listen))
			topic := "unknown"
			kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
			kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 300)
			a := newApp(t, pair, config.Settings{BatchRecords: 100, SafetyMargin: time.Second}, "A->B.topics = "+topic)
			if _, err := a.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			tc.arm(b, dropper)

			sum, err := a.Mirror(context.Background(), NewOwner(""))
			if err != nil {
				t.Fatalf("mirror: %v", err)
			}
			d := sum.Flows[0].Detail[0]
			t.Logf("first run: %+v (responses dropped: %d)", d, dropper.Dropped)
			if d.Status != mirror.UnitResolved {
				t.Fatalf("unit status %q, want resolved (the unknown outcome was not noticed)", d.Status)
			}
			if d.Records != tc.want || d.To != tc.want {
				t.Fatalf("after the unknown outcome the unit counts %d records up to offset %d, want %d", d.Records, d.To, tc.want)
			}
			// The next invocation continues from the settled position.
			if _, err := a.Mirror(context.Background(), NewOwner("")); err != nil {
				t.Fatal(err)
			}
			if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), 1, 300); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// groupTxn: req ends a transaction of a work group's producer (not one of
// the assignment's).
func groupTxn(req kmsg.Request) bool {
	r, ok := req.(*kmsg.EndTxnRequest)
	return ok && strings.Contains(r.TransactionalID, ".~group.")
}
