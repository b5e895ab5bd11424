package invocation

import (
	"context"
	"fmt"

	"github.com/mirrorless/mirrorless/core/fanout"
)

// SizeMirror measures the backlog of every selected flow and decides how
// many mirror invocations this tick needs (core/fanout's rule), capped by
// MIRROR_MAX_CONCURRENCY. It claims nothing and writes nothing.
func (a *Invoker) SizeMirror(ctx context.Context) (fanout.Sizing, error) {
	var total fanout.Backlog
	for _, f := range a.Flows {
		b, err := a.newMirror(f, "").Backlog(ctx)
		if err != nil {
			return fanout.Sizing{}, fmt.Errorf("flow %s: measure backlog: %w", f.Name(), err)
		}
		total = total.Add(b)
	}
	return fanout.Size(total, a.Capacity(), a.Settings.MaxConcurrency), nil
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
