package mirror

import (
	"context"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// In tail mode an invocation that has caught up keeps copying until its
// stop time: records produced while it runs are copied by it, not left to
// the next invocation, and it still ends by its stop time plus the margin.
// Without tail mode the same run exits once caught up and copies none of
// them. kfake: each test has a flow (and so a work-group assignment) of its
// own there; the bench measures the latency on the real pair.
func TestTailCopiesWhileItRuns(t *testing.T) {
	for _, tail := range []bool{false, true} {
		name := map[bool]string{false: "batch", true: "tail"}[tail]
		t.Run(name, func(t *testing.T) {
			pair, _, _ := kafkatest.KfakeClusters(t)
			src := kafkatest.Unique(t, "tail")
			kafkatest.CreateTopic(t, pair.A, src, 3, nil)
			prod := kafkatest.Producer(t, pair.A)
			kafkatest.ProduceSeq(t, prod, src, 3, 0, 10)
			m := testMirror(t, pair, "tail", "A->B.topics = "+src)
			m.Settings.Tail = tail
			m.Settings.SafetyMargin = time.Second

			start := time.Now()
			stopAt := start.Add(3 * time.Second)
			done := make(chan *Result, 1)
			go func() {
				res, err := m.Run(context.Background(), stopAt)
				if err != nil {
					t.Errorf("run: %v", err)
				}
				done <- res
			}()
			// Wait until the backlog is copied, then produce more while the
			// run may still be going.
			deadline := time.Now().Add(2 * time.Second)
			for len(kafkatest.ReadAll(t, pair.B, "A."+src)) < 30 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			kafkatest.ProduceSeq(t, prod, src, 3, 10, 15)
			res := <-done
			took := time.Since(start)
			t.Logf("%s: %d records in %d transactions, took %v", name, res.Records, res.Transactions, took.Round(time.Millisecond))
			if took > stopAt.Sub(start)+m.Settings.SafetyMargin+2*time.Second {
				t.Errorf("the run took %v; want it ended by its stop time plus the margin", took)
			}
			want := int64(30)
			if tail {
				want = 45
			}
			if res.Records != want {
				t.Fatalf("the run copied %d records, want %d (tail mode %v)", res.Records, want, tail)
			}
			if tail {
				if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+src), 3, 15); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
