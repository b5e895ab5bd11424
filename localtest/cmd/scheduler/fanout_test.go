package main

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
)

// A tick the sizer says needs three processes runs three mirror processes at once (all three
// are running before any ends) and reports them as one outcome; other functions and a tick
// sized at one run a single process.
func TestFanOutRunsProcessesAtOnce(t *testing.T) {
	var running, peak, calls atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	var envMu sync.Mutex
	indexes := map[string]bool{}
	run := func(_ context.Context, fn string, env ...string) Outcome {
		envMu.Lock()
		for _, e := range env {
			indexes[e] = true
		}
		envMu.Unlock()
		calls.Add(1)
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if fn == "mirror" && n == 3 {
			once.Do(func() { close(release) })
		}
		if fn == "mirror" {
			<-release
		}
		running.Add(-1)
		return Outcome{Function: fn, Start: time.Now(), Summary: []byte(`{"function":"mirror","ok":true,"records":5,"lag_left":10,"flows":[{"flow":"A->B","records":5,"lag_left":10}]}`)}
	}
	sized := 3
	r := fanOut(run, func(context.Context) (int, string) { return sized, "30 records behind on 3 partitions" })

	o := r(context.Background(), "mirror")
	if peak.Load() != 3 || calls.Load() != 3 {
		t.Fatalf("%d processes, at most %d at once; want 3 at once", calls.Load(), peak.Load())
	}
	if len(indexes) != 4 || !indexes["MIRROR_FANOUT_INDEX=0"] || !indexes["MIRROR_FANOUT_INDEX=2"] || !indexes["MIRROR_GROUPS=3"] {
		t.Errorf("processes' environment %v, want MIRROR_FANOUT_INDEX 0, 1 and 2, and MIRROR_GROUPS=3 (the tick's work groups)", indexes)
	}
	if o.Invocations != 3 || o.Note == "" {
		t.Errorf("outcome %+v: want 3 invocations and the sizer's note", o)
	}
	var sum invocation.MirrorSummary
	if err := json.Unmarshal(o.Summary, &sum); err != nil || sum.Records != 15 || sum.Flows[0].Records != 15 {
		t.Errorf("merged summary %s (%v): want 15 records", o.Summary, err)
	}

	calls.Store(0)
	if o := r(context.Background(), "checkpoint"); calls.Load() != 1 || o.Invocations > 1 {
		t.Errorf("checkpoint ran %d processes", calls.Load())
	}
	sized = 1
	calls.Store(0)
	release = make(chan struct{})
	close(release)
	if o := r(context.Background(), "mirror"); calls.Load() != 1 || o.Invocations > 1 {
		t.Errorf("a tick sized at one ran %d processes", calls.Load())
	}
}

func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum := func(records, lag int64) []byte {
		return []byte(`{"function":"mirror","ok":true,"records":` + itoa(records) + `,"lag_left":` + itoa(lag) +
			`,"flows":[{"flow":"A->B","records":` + itoa(records) + `,"lag_left":` + itoa(lag) + `,"transactions":1}]}`)
	}
	outs := []Outcome{
		{Function: "mirror", Start: t0.Add(time.Second), Duration: 2 * time.Second, Summary: sum(100, 50)},
		{Function: "mirror", Start: t0, Duration: time.Second, Summary: sum(0, 150)},
		{Function: "mirror", Start: t0.Add(time.Second), Duration: 4 * time.Second, ExitCode: 1, Reason: "flow A->B: boom", Summary: sum(50, 20)},
	}
	m := Merge(outs)
	if !m.Start.Equal(t0) || m.Duration != 5*time.Second {
		t.Errorf("span %s + %s, want the first start to the last end (%s + 5s)", m.Start, m.Duration, t0)
	}
	if m.ExitCode != 1 || m.Reason != "flow A->B: boom" || m.Invocations != 3 {
		t.Errorf("exit %d %q, %d invocations; want the failure and 3", m.ExitCode, m.Reason, m.Invocations)
	}
	var s invocation.MirrorSummary
	if err := json.Unmarshal(m.Summary, &s); err != nil {
		t.Fatal(err)
	}
	// Lag: 50-(150-100)=0, 150-150=0, 20-100<0: the records the others copied came off
	// each process's own count of what was left.
	if s.Records != 150 || s.LagLeft != 0 || s.Flows[0].Records != 150 || s.Flows[0].LagLeft != 0 || s.Flows[0].Transactions != 3 {
		t.Errorf("merged %+v flow %+v: want 150 records, lag 0, 3 transactions", s, *s.Flows[0])
	}
	// Three processes that planned 900 and copied 300 each, and one that was fenced: nothing
	// left; two that copied 300 each and a fenced one that left all 900: 300 left.
	three := Merge([]Outcome{{Summary: sum(300, 600)}, {Summary: sum(300, 600)}, {Summary: sum(300, 600)}})
	fenced := Merge([]Outcome{{Summary: sum(300, 600)}, {Summary: sum(300, 600)}, {Summary: sum(0, 900)}})
	for _, c := range []struct {
		o    Outcome
		want int64
	}{{three, 0}, {fenced, 300}} {
		var s invocation.MirrorSummary
		if err := json.Unmarshal(c.o.Summary, &s); err != nil || s.LagLeft != c.want || s.Flows[0].LagLeft != c.want {
			t.Errorf("merged lag %d (flow %d), want %d", s.LagLeft, s.Flows[0].LagLeft, c.want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
