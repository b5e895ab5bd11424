package main

import (
	"context"
	"sync"
	"time"
)

// Job is one function program run on a fixed interval.
type Job struct {
	Name  string
	Every time.Duration
}

// Outcome is what one run of a function program left behind.
type Outcome struct {
	Function string
	Start    time.Time
	Duration time.Duration
	// ExitCode is the program's exit status (0 ok, 1 run failed, 2 bad input), -1 if it
	// could not be started or was killed.
	ExitCode int
	// Summary is the program's one-line JSON summary (its last stdout line), if any.
	Summary []byte
	// Reason is the last line of its stderr when it failed (the one-line reason).
	Reason string
	// Overran is set when the run took longer than the job's interval: the ticks it covered
	// were skipped, not queued.
	Overran bool
	// Invocations counts the processes of a fanned-out mirror tick (0 or 1: one), merged
	// into this outcome; Note says why that many.
	Invocations int
	Note        string
}

// Runner runs one invocation of the named function program.
type Runner func(ctx context.Context, function string) Outcome

// Schedule runs first once, alone, then every job on its own interval until ctx is done:
// jobs run concurrently with each other, a job never overlaps itself, and a run that overruns
// its interval is followed by the next one at once (missed ticks are dropped, as EventBridge
// Scheduler's retry policy of 0 does with ticks that cannot be delivered). Each outcome goes
// to report, from the job's goroutine. Schedule returns when every run has ended.
func Schedule(ctx context.Context, jobs []Job, first string, run Runner, report func(Outcome)) {
	ran := map[string]time.Time{}
	for _, j := range jobs {
		if j.Name == first && ctx.Err() == nil {
			start := time.Now()
			o := run(ctx, j.Name)
			o.Overran = time.Since(start) > j.Every
			report(o)
			ran[j.Name] = start
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			if last, ok := ran[j.Name]; ok {
				next = last.Add(j.Every)
			}
			for {
				if d := time.Until(next); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				if ctx.Err() != nil {
					return
				}
				start := time.Now()
				o := run(ctx, j.Name)
				o.Overran = time.Since(start) > j.Every
				report(o)
				next = start.Add(j.Every)
			}
		}()
	}
	wg.Wait()
}
