package e2e

import (
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// produceWhile produces sequence-numbered records to every partition in
// small batches until stop is closed, and returns how many each partition got.
func produceWhile(t *testing.T, addr, topic string, partitions int32, from int, stop <-chan struct{}) func() int {
	prod := kafkatest.Producer(t, addr)
	n := from
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			kafkatest.ProduceSeq(t, prod, topic, partitions, n, n+10)
			n += 10
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() int { <-done; return n }
}

// SIGKILL the mirror program at random points while records are being
// produced; every record must still arrive exactly once, in order.
func TestSigkillExactlyOnce(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "sigkill")
	const parts = 4
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	// Small transactions over a backlog keep every run busy long enough
	// to be killed mid-flight, at any step of a transaction.
	// A killed run's leases live on for MIRROR_LEASE_TTL; keep it short so
	// the next run can take over the partitions (and fence the killed run's
	// open transactions) soon after.
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic), "MIRROR_BATCH_RECORDS=20", "MIRROR_LEASE_TTL=1s")
	mustInvoke(t, "reconcile", environ)
	const backlog = 10000
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, backlog)

	stop := make(chan struct{})
	produced := produceWhile(t, pair.A, topic, parts, backlog, stop)
	kills := 0
	// From start-up (config, plan, claim, fence) to deep in the copy; a run
	// that finishes before its kill narrows the window to its own length,
	// so a fast mirror is still killed mid-flight.
	window := 900 * time.Millisecond
	for i := 0; kills < 12 && i < 100; i++ {
		began := time.Now()
		cmd, out, errb := start(t, "mirror", environ)
		time.Sleep(30*time.Millisecond + rand.N(window))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if r := wait(cmd, out, errb, began); r.killed {
			kills++
			time.Sleep(time.Duration(500+rand.IntN(700)) * time.Millisecond) // sometimes before the lease expires
		} else if r.code != 0 {
			t.Fatalf("mirror exited %d before the kill: %s", r.code, r.stderr)
		} else {
			t.Logf("run %d finished before its kill, in %v", i, r.duration.Round(time.Millisecond))
			window = max(20*time.Millisecond, r.duration*3/4)
		}
	}
	close(stop)
	n := produced()
	if kills < 10 {
		t.Fatalf("only %d of the runs were killed mid-flight", kills)
	}
	t.Logf("%d kills done; producing stopped at %d records per partition", kills, n)
	began := time.Now()
	drain(t, environ)
	t.Logf("drained in %v", time.Since(began).Round(time.Millisecond))
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if err := kafkatest.ExactlyOnce(dst, parts, n); err != nil {
		t.Fatalf("after %d kills: %v", kills, err)
	}
	if err := kafkatest.SameRecords(kafkatest.ReadAll(t, pair.A, topic), dst); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records per partition exactly once after %d SIGKILLs", n, kills)
}

// Three mirror programs at once, repeatedly, while producing: leases split
// the work, fencing keeps overlaps safe; every record exactly once.
func TestConcurrentInvocations(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "concurrent")
	const parts = 6
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	// Each program may take 2 of the 6 partitions, so the three must
	// share them through leases; small transactions keep them busy at the
	// same time.
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic), "MIRROR_BATCH_RECORDS=50", "MIRROR_MAX_UNITS=2", "MIRROR_TIME_BUDGET=8s")
	mustInvoke(t, "reconcile", environ)
	const backlog = 3000
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, backlog)

	stop := make(chan struct{})
	produced := produceWhile(t, pair.A, topic, parts, backlog, stop)
	var claimed, fenced [3]float64
	for round := 0; round < 4; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := invoke(t, "mirror", environ)
				if r.code != 0 {
					t.Errorf("concurrent mirror exited %d: %s", r.code, r.stderr)
					return
				}
				s := r.summary(t)
				mu.Lock()
				claimed[i] += s["units_claimed"].(float64)
				fenced[i] += s["flows"].([]any)[0].(map[string]any)["fenced"].(float64)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	close(stop)
	n := produced()
	drain(t, environ)
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if err := kafkatest.ExactlyOnce(dst, parts, n); err != nil {
		t.Fatal(err)
	}
	for i, c := range claimed {
		if c == 0 {
			t.Errorf("program %d never got a partition: leases did not spread the work (claimed %v)", i, claimed)
		}
	}
	t.Logf("%d records per partition exactly once; over 4 rounds the programs claimed %v units and were fenced on %v", n, claimed, fenced)
}
