package checkpoint_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A checkpoint run ends within its time budget whatever the target does,
// as a mirror run does (issue 18 item 2): with every Produce to the target
// accepted and never answered, kgo does not fail an idempotent producer's
// records while their request is in flight, so the run's write of its
// heartbeat, checkpoints and state waited without bound (outside Lambda
// the context has no deadline; in Lambda the runtime's cancellation does
// not end that wait either). The slack covers the test's scheduling.
func TestCheckpointBoundedWhenProduceStalls(t *testing.T) {
	const (
		budget = 8 * time.Second
		margin = 3 * time.Second
		slack  = 3 * time.Second
	)
	pair, _, b := kafkatest.KfakeClusters(t)
	topic := kafkatest.Unique(t, "cpstall")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 20)
	a := newAppFrom(t, config.Settings{
		PropertiesFile: kafkatest.Properties(t, pair, "A->B.topics = "+topic),
		TimeBudget:     budget,
		SafetyMargin:   margin,
	})
	ctx := context.Background()
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}

	unstall := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unstall) }) }
	defer release()
	stalledCh := make(chan struct{})
	var stalled sync.Once
	b.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		stalled.Do(func() { close(stalledCh) })
		b.SleepControl(func() { <-unstall })
		return nil, nil, false
	})
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := a.Checkpoint(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		select {
		case <-stalledCh:
		default:
			t.Fatalf("the run never produced to the target (%v): the stall was not exercised", err)
		}
		t.Logf("checkpoint run ended after %v (budget %v, margin %v): %v", time.Since(start).Round(time.Millisecond), budget, margin, err)
		// Once the target answers, the next run checkpoints as usual: no
		// transaction was left open that it could not fence.
		release()
		runCheckpoint(t, newAppFrom(t, config.Settings{PropertiesFile: kafkatest.Properties(t, pair, "A->B.topics = "+topic)}))
	case <-time.After(budget + slack):
		release()
		t.Fatalf("the checkpoint run had not ended %v after it started (MIRROR_TIME_BUDGET %v): it waits on the stalled target without bound", budget+slack, budget)
	}
}
