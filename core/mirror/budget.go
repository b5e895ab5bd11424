package mirror

import (
	"context"
	"sync"
)

// budget bounds the bytes of fetched records an invocation holds at once,
// over all its units. Without it each unit queues fetched slices and fills
// a whole transaction, so memory grows with the number of partitions
// claimed (about 25 MiB each at default settings); with it, peak memory is
// the budget plus fixed costs, and more units only means smaller
// transactions.
//
// The poller takes budget before handing records to a unit; the unit gives
// it back as soon as the records are produced (the transaction does not
// need them to commit, and an aborted batch is fetched again by the next
// invocation, never retried from memory) or when it stops.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	freed chan struct{} // closed and replaced whenever bytes are given back
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they fit. A request larger than the
// whole budget is granted once nothing else is held, so one oversized
// fetch cannot stall the invocation. It returns false, taking nothing,
// when ctx ends or stop is closed first.
func (b *budget) acquire(ctx context.Context, stop <-chan struct{}, n int64) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return true
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// release gives n bytes back.
func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse is how many bytes are held (for tests).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
