package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
)

// Sizer says how many mirror processes a tick runs, and why.
type Sizer func(ctx context.Context) (n int, note string)

// execSizer runs `mirror size` (the rule the Lambda tick applies, core/fanout) with the
// scheduler's environment, and MIRROR_SCHEDULE_INTERVAL set to the -mirror interval unless the
// user set it. Any failure sizes the tick at one process: fan-out is an optimisation.
func execSizer(binDir string, every time.Duration) Sizer {
	return func(ctx context.Context) (int, string) {
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "mirror"), "size")
		cmd.Env = os.Environ()
		if os.Getenv("MIRROR_SCHEDULE_INTERVAL") == "" {
			cmd.Env = append(cmd.Env, "MIRROR_SCHEDULE_INTERVAL="+every.String())
		}
		out, err := cmd.Output()
		if err != nil {
			return 1, fmt.Sprintf("mirror size failed (%v): one process", err)
		}
		var s fanout.Sizing
		if err := json.Unmarshal(lastLine(out), &s); err != nil || s.Invocations < 1 {
			return 1, fmt.Sprintf("mirror size printed %q: one process", lastLine(out))
		}
		return s.Invocations, fmt.Sprintf("%d records behind on %d partitions", s.Backlog.Records, s.Backlog.Partitions)
	}
}

// fanOut wraps the mirror's runner: each tick sizes the backlog and runs that many mirror
// processes at once, as the Lambda tick starts workers, then reports them as one run (Merge).
// Other functions run as before.
func fanOut(run Runner, size Sizer) Runner {
	return func(ctx context.Context, fn string) Outcome {
		if fn != "mirror" {
			return run(ctx, fn)
		}
		n, note := size(ctx)
		if n <= 1 {
			return run(ctx, fn)
		}
		outs := make([]Outcome, n)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i] = run(ctx, fn)
			}()
		}
		wg.Wait()
		o := Merge(outs)
		o.Note = note
		return o
	}
}

// Merge makes the processes of one fanned-out tick one outcome: from the first start to the
// last end; the first failure's exit code and reason; per flow the records and bytes summed
// and the smallest lag left (each process counts only its own copying against the lag it
// planned, so each overstates what is left; the smallest is the closest).
func Merge(outs []Outcome) Outcome {
	if len(outs) == 0 {
		return Outcome{}
	}
	m := outs[0]
	m.Invocations = len(outs)
	end := m.Start.Add(m.Duration)
	var merged *invocation.MirrorSummary
	flows := map[string]int{}
	for _, o := range outs {
		if o.Start.Before(m.Start) {
			m.Start = o.Start
		}
		if e := o.Start.Add(o.Duration); e.After(end) {
			end = e
		}
		if m.ExitCode == 0 && o.ExitCode != 0 {
			m.ExitCode, m.Reason = o.ExitCode, o.Reason
		}
		var s invocation.MirrorSummary
		if json.Unmarshal(o.Summary, &s) != nil {
			continue
		}
		if merged == nil {
			merged = &s
			for j, f := range s.Flows {
				flows[f.Flow] = j
			}
			continue
		}
		merged.OK = merged.OK && s.OK
		merged.UnitsClaimed += s.UnitsClaimed
		merged.Records += s.Records
		merged.Bytes += s.Bytes
		merged.LagLeft = min(merged.LagLeft, s.LagLeft)
		for _, f := range s.Flows {
			j, ok := flows[f.Flow]
			if !ok {
				flows[f.Flow] = len(merged.Flows)
				merged.Flows = append(merged.Flows, f)
				continue
			}
			g := merged.Flows[j]
			g.Records += f.Records
			g.Bytes += f.Bytes
			g.Transactions += f.Transactions
			g.UnitsClaimed += f.UnitsClaimed
			g.Fenced += f.Fenced
			g.LagLeft = min(g.LagLeft, f.LagLeft)
			g.Errors = append(g.Errors, f.Errors...)
		}
	}
	m.Duration = end.Sub(m.Start)
	if merged != nil {
		if b, err := json.Marshal(merged); err == nil {
			m.Summary = b
		}
	}
	return m
}
