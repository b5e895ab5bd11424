package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/mirror"
)

func summary(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatus(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewStatus(t0)
	if got := s.Line(t0); !strings.Contains(got, "no mirror run yet") {
		t.Errorf("empty status line %q", got)
	}

	line := s.Record(Outcome{Function: "reconcile", Start: t0, Duration: time.Second, Summary: summary(t, invocation.ReconcileSummary{Function: "reconcile", OK: true, Planned: 3, Applied: 3})})
	if !strings.Contains(line, "reconcile") || !strings.Contains(line, "3 planned, 3 applied, 0 failed") {
		t.Errorf("reconcile line %q", line)
	}
	// Two mirror runs: 1000 then 500 records on A->B, 2 seconds each.
	for i, n := range []int64{1000, 500} {
		line = s.Record(Outcome{Function: "mirror", Start: t0.Add(time.Duration(10*(i+1)) * time.Second), Duration: 2 * time.Second,
			Summary: summary(t, invocation.MirrorSummary{Function: "mirror", OK: true, UnitsClaimed: 3, Records: n, LagLeft: 40 - int64(i)*40,
				Flows: []*mirror.Result{{Flow: "A->B", Records: n, LagLeft: 40 - int64(i)*40, Fenced: i}}})})
	}
	// The second run's 500 records over the 10 s since the first ended.
	for _, want := range []string{"mirror", "ok 3 units, 500 records;", "A->B 500 records, lag 0, 50/s since the last run, caught up, 1 fenced"} {
		if !strings.Contains(line, want) {
			t.Errorf("mirror line %q lacks %q", line, want)
		}
	}
	s.Record(Outcome{Function: "checkpoint", Start: t0.Add(25 * time.Second), Duration: time.Second, ExitCode: 1,
		Summary: summary(t, invocation.CheckpointSummary{Function: "checkpoint", Error: "x"}), Reason: "checkpoint: list groups: broker down"})

	got := s.Line(t0.Add(100 * time.Second))
	// 1500 records in 100 s: avg 15/s; last run 500 in the 10 s since the one before.
	for _, want := range []string{"A->B lag 0, 50 rec/s (avg 15), 1500 copied, caught up", "mirror ok 1m18s ago (2 runs, 0 failed)", "checkpoint FAILED 1m14s ago (1 runs, 1 failed)", "reconcile ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("status line %q lacks %q", got, want)
		}
	}
	if c := s.Copied()["A->B"]; c != 1500 {
		t.Errorf("Copied = %d, want 1500", c)
	}
}

// The rate is records over the wall-clock time between runs, not over the
// runs' own time: the scheduler showed 388,829/s while the producer wrote
// 6,700/s (issue 15). The time to catch up follows how fast the lag shrank
// between runs.
func TestStatusRealRate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewStatus(t0)
	run := func(at time.Duration, records, lag int64) string {
		return s.Record(Outcome{Function: "mirror", Start: t0.Add(at), Duration: 200 * time.Millisecond,
			Summary: summary(t, invocation.MirrorSummary{Function: "mirror", OK: true, Records: records, LagLeft: lag,
				Flows: []*mirror.Result{{Flow: "A->B", Records: records, LagLeft: lag}}})})
	}
	// Once a minute, 60,000 records in 0.2 s each time: 1,000/s.
	if line := run(59800*time.Millisecond, 60000, 30000); !strings.Contains(line, "60000 records, lag 30000, 1000/s since the last run") || strings.Contains(line, "caught up") {
		t.Errorf("first run: %q", line)
	}
	// The lag shrank by 12,000 in 60 s (200/s): 18,000 left take 90 s;
	// the oldest record left is 75 s old.
	age := 75.4
	line := s.Record(Outcome{Function: "mirror", Start: t0.Add(119800 * time.Millisecond), Duration: 200 * time.Millisecond,
		Summary: summary(t, invocation.MirrorSummary{Function: "mirror", OK: true, Records: 60000, LagLeft: 18000,
			Flows: []*mirror.Result{{Flow: "A->B", Records: 60000, LagLeft: 18000, LagSeconds: &age}}})})
	if !strings.Contains(line, "lag 18000 (oldest 1m15s old), 1000/s since the last run, caught up in ~1m30s") {
		t.Errorf("second run: %q", line)
	}
	if got := s.Line(t0.Add(2 * time.Minute)); !strings.Contains(got, "A->B lag 18000 (oldest 1m15s old), 1000 rec/s (avg 1000), 120000 copied, caught up in ~1m30s") {
		t.Errorf("status line %q", got)
	}
	if line := run(179800*time.Millisecond, 30000, 20000); !strings.Contains(line, "500/s since the last run, lag not shrinking") {
		t.Errorf("third run: %q", line)
	}
}

func TestStatusFailures(t *testing.T) {
	t.Parallel()
	s := NewStatus(time.Now())
	for _, c := range []struct {
		o    Outcome
		want string
	}{
		{Outcome{Function: "mirror", ExitCode: 2, Summary: []byte(`{"function":"mirror","ok":false,"error":"bad"}`), Reason: "mirror: invalid settings: MIRROR_MAX_UNITS must be at least 1"}, "FAILED (exit 2): mirror: invalid settings: MIRROR_MAX_UNITS"},
		{Outcome{Function: "mirror", ExitCode: 0}, "FAILED (exit 0): no JSON summary on stdout"},
		{Outcome{Function: "mirror", ExitCode: 0, Summary: []byte("not json")}, "FAILED (exit 0): unreadable summary"},
		{Outcome{Function: "mirror", ExitCode: -1, Reason: "fork/exec: no such file"}, "FAILED (exit -1): fork/exec"},
		{Outcome{Function: "reconcile", ExitCode: 0, Overran: true, Summary: []byte(`{"function":"reconcile","ok":true}`)}, "[overran its interval: ticks skipped]"},
	} {
		if got := s.Record(c.o); !strings.Contains(got, c.want) {
			t.Errorf("Record(%+v) = %q, want it to contain %q", c.o, got, c.want)
		}
	}
}

func TestLastLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"a\n", "a"},
		{"a\nb\n\n  \n", "b"},
		{`{"x":1}`, `{"x":1}`},
	} {
		if got := string(lastLine([]byte(c.in))); got != c.want {
			t.Errorf("lastLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
