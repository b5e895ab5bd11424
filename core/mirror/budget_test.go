package mirror

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
)

func TestBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBudget(100)
	if !b.acquire(ctx, nil, 60) || !b.acquire(ctx, nil, 40) {
		t.Fatal("requests within the budget were refused")
	}
	got := make(chan bool, 1)
	go func() { got <- b.acquire(ctx, nil, 50) }()
	select {
	case <-got:
		t.Fatal("a request past the budget was granted while it was all held")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	if !<-got {
		t.Fatal("a request was not granted after bytes were given back")
	}
	if n := b.inUse(); n != 90 {
		t.Fatalf("in use %d, want 90", n)
	}

	// Larger than the whole budget: granted once nothing else is held.
	go func() { got <- b.acquire(ctx, nil, 500) }()
	b.release(40)
	select {
	case ok := <-got:
		t.Fatalf("an oversized request returned %v while 50 bytes were held", ok)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(50)
	if !<-got || b.inUse() != 500 {
		t.Fatalf("an oversized request was not granted on an empty budget (in use %d)", b.inUse())
	}

	// A waiting request gives up, taking nothing, when its unit stops or
	// the invocation ends.
	stop := make(chan struct{})
	go func() { got <- b.acquire(ctx, stop, 1) }()
	close(stop)
	if <-got {
		t.Fatal("acquire returned true after stop")
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- b.acquire(cctx, nil, 1) }()
	cancel()
	if <-got {
		t.Fatal("acquire returned true after the context ended")
	}
	if n := b.inUse(); n != 500 {
		t.Fatalf("in use %d after refused requests, want 500", n)
	}
}

// The in-flight budget is positive and capped whatever MIRROR_BATCH_BYTES
// holds: near MaxInt64, twice it overflowed to a negative budget (issue 18).
func TestInflightLimitDoesNotOverflow(t *testing.T) {
	for _, b := range []int{1024, 4 << 20, 32 << 20, math.MaxInt / 2, math.MaxInt} {
		m := &Mirror{Settings: config.Settings{BatchBytes: b}}
		if got := m.inflightLimit(); got <= 0 || got > maxInflight || got != min(2*int64(b), maxInflight) && b < maxInflight {
			t.Errorf("BatchBytes %d: inflight limit %d", b, got)
		}
	}
}
