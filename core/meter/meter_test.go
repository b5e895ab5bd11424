package meter

import (
	"context"
	"sync"
	"testing"
)

func TestMeter(t *testing.T) {
	if m := From(context.Background()); m != nil {
		t.Fatalf("a context without a meter gave %v", m)
	}
	var none *Meter
	none.AddTotal(1) // no-ops, no panic
	none.AddDone(1)
	none.AddRecords(1, 1)
	if got := none.Snapshot(); got != (Snapshot{}) {
		t.Errorf("nil meter: %+v", got)
	}

	m := &Meter{}
	ctx := With(context.Background(), m)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			From(ctx).AddTotal(10)
			From(ctx).AddDone(3)
			From(ctx).AddRecords(2, 100)
		})
	}
	wg.Wait()
	if got, want := m.Snapshot(), (Snapshot{Total: 80, Done: 24, Records: 16, Bytes: 800}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
