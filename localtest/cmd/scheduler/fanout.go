package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/mirror"
)

// EnvRunner runs one invocation of the named function program with extra environment.
type EnvRunner func(ctx context.Context, function string, env ...string) Outcome

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
// The processes get MIRROR_FANOUT_INDEX 0..n-1, so that they spread over the partitions instead
// of racing for the same leases.
func fanOut(run EnvRunner, size Sizer) Runner {
	return func(ctx context.Context, fn string) Outcome {
		if fn != "mirror" {
			return run(ctx, fn)
		}
		n, note := size(ctx)
		if n <= 1 {
			if os.Getenv("MIRROR_GROUPS") == "" {
				return run(ctx, fn, "MIRROR_GROUPS=1")
			}
			return run(ctx, fn)
		}
		outs := make([]Outcome, n)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				env := []string{fmt.Sprintf("MIRROR_FANOUT_INDEX=%d", i)}
				if os.Getenv("MIRROR_GROUPS") == "" {
					// The tick's fan-out is the flows' number of work
					// groups, as the Lambda tick sets it.
					env = append(env, fmt.Sprintf("MIRROR_GROUPS=%d", n))
				}
				outs[i] = run(ctx, fn, env...)
			}()
		}
		wg.Wait()
		o := Merge(outs)
		o.Note = note
		return o
	}
}

// Merge makes the processes of one fanned-out tick one outcome: from the first start to the
// last end; the first failure's exit code and reason; per flow the records and bytes summed,
// and as lag left the smallest of what each process left less what the others copied (each
// counts only its own copying against the lag it planned), never below 0.
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
		merged.LagLeft = lagLeft(outs, "", merged.Records)
		for _, f := range merged.Flows {
			f.LagLeft = lagLeft(outs, f.Flow, f.Records)
		}
		if b, err := json.Marshal(merged); err == nil {
			m.Summary = b
		}
	}
	return m
}

// lagLeft estimates a flow's lag after the tick (flow "": the whole run's) from every process's
// summary: the smallest of a process's lag left less what the others copied, at least 0.
func lagLeft(outs []Outcome, flow string, total int64) int64 {
	best := int64(-1)
	for _, o := range outs {
		var s invocation.MirrorSummary
		if json.Unmarshal(o.Summary, &s) != nil {
			continue
		}
		lag, own := s.LagLeft, s.Records
		if flow != "" {
			i := slices.IndexFunc(s.Flows, func(f *mirror.Result) bool { return f != nil && f.Flow == flow })
			if i < 0 {
				continue
			}
			lag, own = s.Flows[i].LagLeft, s.Flows[i].Records
		}
		if est := max(0, lag-(total-own)); best < 0 || est < best {
			best = est
		}
	}
	return max(best, 0)
}
