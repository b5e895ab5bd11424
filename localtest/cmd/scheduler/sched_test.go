package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

type span struct {
	fn         string
	start, end time.Time
}

// fakeRuns is a Runner whose runs take a fixed time per function and are recorded.
type fakeRuns struct {
	mu    sync.Mutex
	spans []span
	take  map[string]time.Duration
}

func (f *fakeRuns) run(ctx context.Context, fn string) Outcome {
	start := time.Now()
	select {
	case <-time.After(f.take[fn]):
	case <-ctx.Done():
	}
	f.mu.Lock()
	f.spans = append(f.spans, span{fn, start, time.Now()})
	f.mu.Unlock()
	return Outcome{Function: fn, Start: start, Duration: time.Since(start)}
}

func (f *fakeRuns) of(fn string) []span {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []span
	for _, s := range f.spans {
		if s.fn == fn {
			out = append(out, s)
		}
	}
	return out
}

func TestScheduleReconcileFirstAlone(t *testing.T) {
	t.Parallel()
	f := &fakeRuns{take: map[string]time.Duration{"reconcile": 80 * time.Millisecond, "mirror": time.Millisecond, "checkpoint": time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	jobs := []Job{{"mirror", 20 * time.Millisecond}, {"reconcile", time.Hour}, {"checkpoint", 20 * time.Millisecond}}
	Schedule(ctx, jobs, "reconcile", f.run, func(Outcome) {})
	if len(f.spans) == 0 || f.spans[0].fn != "reconcile" {
		t.Fatalf("first run: %+v, want reconcile", f.spans)
	}
	first := f.spans[0]
	for _, s := range f.spans[1:] {
		if s.start.Before(first.end) {
			t.Errorf("%s started at %v, before the first reconcile ended (%v)", s.fn, s.start, first.end)
		}
	}
	if n := len(f.of("reconcile")); n != 1 {
		t.Errorf("reconcile ran %d times in 300ms with a 1h interval, want 1", n)
	}
	if len(f.of("mirror")) < 2 || len(f.of("checkpoint")) < 2 {
		t.Errorf("mirror ran %d times, checkpoint %d: want both to keep running after reconcile", len(f.of("mirror")), len(f.of("checkpoint")))
	}
}

func TestScheduleNeverOverlapsAJob(t *testing.T) {
	t.Parallel()
	// mirror takes 3x its interval: its runs must follow each other, never overlap, and be
	// marked as overrunning; checkpoint keeps its own pace meanwhile.
	f := &fakeRuns{take: map[string]time.Duration{"mirror": 30 * time.Millisecond, "checkpoint": time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	overran := 0
	Schedule(ctx, []Job{{"mirror", 10 * time.Millisecond}, {"checkpoint", 25 * time.Millisecond}}, "reconcile", f.run, func(o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		if o.Overran {
			overran++
		}
	})
	m := f.of("mirror")
	if len(m) < 3 {
		t.Fatalf("mirror ran %d times", len(m))
	}
	for i := 1; i < len(m); i++ {
		if m[i].start.Before(m[i-1].end) {
			t.Errorf("mirror run %d started before run %d ended", i, i-1)
		}
	}
	if overran < len(m)-1 { // the last one may have been cut short by the end of the test
		t.Errorf("%d of %d overrunning mirror runs were marked Overran", overran, len(m))
	}
	c := f.of("checkpoint")
	for i := 1; i < len(c); i++ {
		if gap := c[i].start.Sub(c[i-1].start); gap < 25*time.Millisecond {
			t.Errorf("checkpoint runs %d and %d started %v apart, under its 25ms interval", i-1, i, gap)
		}
	}
	if len(c) < 3 {
		t.Errorf("checkpoint ran %d times in 400ms at 25ms: held up by mirror?", len(c))
	}
}

func TestScheduleStopsOnCancel(t *testing.T) {
	t.Parallel()
	f := &fakeRuns{take: map[string]time.Duration{"mirror": time.Hour}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Schedule(ctx, []Job{{"mirror", time.Millisecond}}, "reconcile", f.run, func(Outcome) {})
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Schedule did not return after cancel")
	}
	if n := len(f.of("mirror")); n != 1 {
		t.Errorf("mirror ran %d times, want the one run interrupted by the cancel", n)
	}
}
