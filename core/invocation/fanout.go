package invocation

import (
	"context"
	"fmt"

	"github.com/mirrorless/mirrorless/core/fanout"
)

// SizeMirror measures the backlog of every selected flow and decides how
// many mirror invocations this tick needs (core/fanout's rule), capped by
// MIRROR_MAX_CONCURRENCY. It claims nothing and writes nothing.
//
// An invocation runs its flows side by side and each claims only its
// share of MIRROR_MAX_UNITS (mirror.Mirror.Share), so the claims a tick
// needs are set by the flow with the most partitions behind over that
// share, not by the sum over the whole setting (which, with the backlog in
// one flow of two, started half the invocations it needed).
func (a *Invoker) SizeMirror(ctx context.Context) (fanout.Sizing, error) {
	var total fanout.Backlog
	widest, per := 0, a.Settings.MaxUnits
	for _, f := range a.Flows {
		m := a.newMirror(f, "")
		m.Share = len(a.Flows)
		b, err := m.Backlog(ctx)
		if err != nil {
			return fanout.Sizing{}, fmt.Errorf("flow %s: measure backlog: %w", f.Name(), err)
		}
		total = total.Add(b)
		widest, per = max(widest, b.Partitions), m.UnitsPerRun()
	}
	c := a.Capacity()
	c.Partitions = per
	s := fanout.Size(fanout.Backlog{Records: total.Records, Partitions: widest}, c, a.Settings.MaxConcurrency)
	s.Backlog = total
	return s, nil
}

// Capacity is what the settings say one invocation copies within one
// schedule interval.
func (a *Invoker) Capacity() fanout.Capacity {
	interval, _ := a.Settings.Interval() // validated with the settings
	return fanout.Capacity{
		RecordsPerSecond: float64(a.Settings.FanoutRate),
		Partitions:       a.Settings.MaxUnits,
		Window:           fanout.Window(interval, a.Settings.TimeBudget, a.Settings.SafetyMargin),
	}
}
