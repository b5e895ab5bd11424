package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
)

// Status aggregates the runs' summaries into what the status line shows.
type Status struct {
	mu      sync.Mutex
	started time.Time
	last    map[string]Outcome
	note    map[string]string // short result of the last run, per function
	runs    map[string]int
	failed  map[string]int
	flows   map[string]*flowStat
}

type flowStat struct {
	lag     int64     // lag_left after the last mirror run
	age     string    // how old the oldest record not copied was then ("" unknown or none)
	total   int64     // records copied since the scheduler started
	lastEnd time.Time // when the last mirror run ended
	// rate is the copy rate a person can count on: the last run's records
	// over the wall-clock time since the run before it ended (or since the
	// scheduler started), not over the run's own time, which leaves out
	// the idle time between runs (a run copying 60,000 records in 0.2 s
	// once a minute copies 1,000/s, not 300,000/s).
	rate float64
	// eta says when the lag should be gone at the pace it shrank between
	// the last two runs ("" before two runs).
	eta string
}

// NewStatus starts the clock for the session's average rates.
func NewStatus(now time.Time) *Status {
	return &Status{
		started: now,
		last:    map[string]Outcome{},
		note:    map[string]string{},
		runs:    map[string]int{},
		failed:  map[string]int{},
		flows:   map[string]*flowStat{},
	}
}

// Record takes one outcome and returns a one-line account of the run.
func (s *Status) Record(o Outcome) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[o.Function] = o
	s.runs[o.Function]++
	ok := o.ExitCode == 0
	if !ok {
		s.failed[o.Function]++
	}
	note, err := s.summarize(o)
	if err != nil {
		ok = false
		note = err.Error()
	}
	if !ok {
		reason := o.Reason
		if reason == "" {
			reason = note
		}
		note = fmt.Sprintf("FAILED (exit %d): %s", o.ExitCode, reason)
	}
	if o.Invocations > 1 {
		note += fmt.Sprintf(" [%d processes: %s]", o.Invocations, o.Note)
	}
	if o.Overran {
		note += " [overran its interval: ticks skipped]"
	}
	s.note[o.Function] = note
	return fmt.Sprintf("%s %-10s %6.1fs  %s", o.Start.Format("15:04:05"), o.Function, o.Duration.Seconds(), note)
}

// summarize reads the function's JSON summary with the function's own summary type.
func (s *Status) summarize(o Outcome) (string, error) {
	if len(o.Summary) == 0 {
		return "", fmt.Errorf("no JSON summary on stdout")
	}
	end := o.Start.Add(o.Duration)
	switch o.Function {
	case "mirror":
		var sum invocation.MirrorSummary
		if err := json.Unmarshal(o.Summary, &sum); err != nil {
			return "", fmt.Errorf("unreadable summary: %v", err)
		}
		var parts []string
		for _, f := range sum.Flows {
			st := s.flows[f.Flow]
			if st == nil {
				st = &flowStat{}
				s.flows[f.Flow] = st
			}
			since := s.started
			if !st.lastEnd.IsZero() {
				since = st.lastEnd
			}
			dt := max(end.Sub(since).Seconds(), 1e-3)
			st.rate = float64(f.Records) / dt
			switch {
			case f.LagLeft == 0:
				st.eta = "caught up"
			case st.lastEnd.IsZero():
				st.eta = ""
			case st.lag > f.LagLeft:
				shrink := float64(st.lag-f.LagLeft) / dt
				st.eta = fmt.Sprintf("caught up in ~%s", (time.Duration(float64(f.LagLeft)/shrink) * time.Second).Round(time.Second))
			default:
				st.eta = "lag not shrinking"
			}
			st.lag = f.LagLeft
			st.age = ""
			if f.LagSeconds != nil && *f.LagSeconds > 0 {
				st.age = (time.Duration(*f.LagSeconds) * time.Second).String()
			}
			st.total += f.Records
			st.lastEnd = end
			p := fmt.Sprintf("%s %d records, lag %d%s, %.0f/s since the last run", f.Flow, f.Records, f.LagLeft, ageNote(st.age), st.rate)
			if st.eta != "" {
				p += ", " + st.eta
			}
			if f.Fenced > 0 {
				p += fmt.Sprintf(", %d fenced", f.Fenced)
			}
			if len(f.Waiting) > 0 {
				p += fmt.Sprintf(", %d waiting for reconcile", len(f.Waiting))
			}
			if len(f.Errors) > 0 {
				p += ", errors: " + strings.Join(f.Errors, "; ")
			}
			parts = append(parts, p)
		}
		return fmt.Sprintf("ok %d units, %d records; %s", sum.UnitsClaimed, sum.Records, strings.Join(parts, "; ")), nil
	case "reconcile":
		var sum invocation.ReconcileSummary
		if err := json.Unmarshal(o.Summary, &sum); err != nil {
			return "", fmt.Errorf("unreadable summary: %v", err)
		}
		return fmt.Sprintf("ok %d planned, %d applied, %d failed, %d skipped", sum.Planned, sum.Applied, sum.Failed, sum.Skipped), nil
	case "checkpoint":
		var sum invocation.CheckpointSummary
		if err := json.Unmarshal(o.Summary, &sum); err != nil {
			return "", fmt.Errorf("unreadable summary: %v", err)
		}
		return fmt.Sprintf("ok %d groups, %d checkpoints, %d offsets synced, %d heartbeats", sum.Groups, sum.Checkpoints, sum.OffsetsSynced, sum.Heartbeats), nil
	}
	var generic struct {
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal(o.Summary, &generic); err != nil {
		return "", fmt.Errorf("unreadable summary: %v", err)
	}
	return "ok", nil
}

// Line is the live status line: per flow the lag, the copy rate (between the last two runs,
// and over the session), the records copied and when the lag should be gone; per function
// the last result and its age.
func (s *Status) Line(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := max(now.Sub(s.started).Seconds(), 1e-3)
	names := make([]string, 0, len(s.flows))
	for n := range s.flows {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		f := s.flows[n]
		p := fmt.Sprintf("%s lag %d%s, %.0f rec/s (avg %.0f), %d copied", n, f.lag, ageNote(f.age), f.rate, float64(f.total)/elapsed, f.total)
		if f.eta != "" {
			p += ", " + f.eta
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = append(parts, "no mirror run yet")
	}
	fns := make([]string, 0, len(s.last))
	for fn := range s.last {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		o := s.last[fn]
		state := "ok"
		if o.ExitCode != 0 {
			state = "FAILED"
		}
		ago := now.Sub(o.Start.Add(o.Duration)).Round(time.Second)
		parts = append(parts, fmt.Sprintf("%s %s %s ago (%d runs, %d failed)", fn, state, ago, s.runs[fn], s.failed[fn]))
	}
	return strings.Join(parts, " | ")
}

// Copied is the records copied per flow since the start.
func (s *Status) Copied() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for n, f := range s.flows {
		out[n] = f.total
	}
	return out
}

// ageNote says how old the oldest record not copied is, when known.
func ageNote(age string) string {
	if age == "" {
		return ""
	}
	return " (oldest " + age + " old)"
}
