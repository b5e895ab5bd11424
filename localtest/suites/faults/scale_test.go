package faults

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Scale: many partitions, each invocation claims at most MIRROR_MAX_UNITS
// of them and leaves the rest to concurrent invocations; nothing starves:
// after a few rounds every partition has made progress, and in the end
// every record is there exactly once. Short: 200 partitions over 20
// topics; long (MIRROR_FAULTS_LONG=1): 2,000 over 200.
func TestScaleNothingStarves(t *testing.T) {
	pair := kafkatest.Real(t)
	topics := pick(20, 200)
	s := newScenario(t, pair, topics, 10)
	maxUnits := pick(40, 300)
	environ := s.env(fmt.Sprintf("MIRROR_MAX_UNITS=%d", maxUnits), "MIRROR_TIME_BUDGET=15s", "MIRROR_BATCH_RECORDS=1000")
	const per = 20
	prod := kafkatest.Producer(t, pair.A)
	for _, topic := range s.topics {
		kafkatest.ProduceSeq(t, prod, topic, s.parts, 0, per)
	}
	began := time.Now()
	mustInvoke(t, "reconcile", environ)
	t.Logf("reconcile created %d topics in %v", topics, time.Since(began).Round(time.Millisecond))
	// Rounds of concurrent invocations, each capped, until every
	// partition has been claimed at least once.
	concurrent := 3
	var claimed []float64
	rounds := 0
	for ; rounds < 20; rounds++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		lag := 0.0
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := invoke(t, "mirror", environ)
				if r.code != 0 {
					t.Errorf("%s", r)
					return
				}
				m := r.summary()
				mu.Lock()
				defer mu.Unlock()
				c := m["units_claimed"].(float64)
				if int(c) > maxUnits {
					t.Errorf("an invocation claimed %v units, more than MIRROR_MAX_UNITS=%d", c, maxUnits)
				}
				claimed = append(claimed, c)
				lag = max(lag, m["lag_left"].(float64))
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if lag == 0 {
			break
		}
	}
	t.Logf("%d partitions caught up in %d rounds of %d concurrent capped invocations (claimed per invocation %v) in %v",
		topics*int(s.parts), rounds+1, concurrent, claimed, time.Since(began).Round(time.Millisecond))
	if rounds == 20 {
		t.Fatal("some partitions starved: still lagging after 20 rounds")
	}
	// Nothing starved: every partition holds its records exactly once.
	s.verify(t, environ, per)
}
