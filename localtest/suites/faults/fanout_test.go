package faults

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Fan-out that overshoots: far more mirror invocations at once than a small backlog needs (what
// a tick sized on a backlog another invocation has just cleared, or a Lambda retry, starts).
// Eight concurrent processes over 2 partitions x 20 sequence-numbered records: every process
// exits 0, the records they report copied add up to exactly the backlog, the remote topic holds
// every record exactly once (read straight after them, with no drain run to hide a gap), at most
// one process per partition copied anything, and the extras committed no transaction and no
// record. A second round of eight over nothing left: all exit 0 having claimed and copied
// nothing. `mirror size` says one invocation is enough here: the overshoot is deliberate.
func TestFanOutOvershoot(t *testing.T) {
	pair := kafkatest.Real(t)
	const parts, n, procs = 2, 20, 8
	s := newScenario(t, pair, 1, parts)
	environ := s.env("MIRROR_TIME_BUDGET=15s")
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], parts, 0, n)

	cmd := exec.Command(filepath.Join(binDir, "mirror"), "size")
	cmd.Env = environ
	out, err := cmd.Output()
	var sizing fanout.Sizing
	if err != nil || json.Unmarshal(out, &sizing) != nil {
		t.Fatalf("mirror size: %v: %s", err, out)
	}
	if sizing.Backlog.Records != parts*n || sizing.Backlog.Partitions != parts || sizing.Invocations != 1 {
		t.Fatalf("mirror size: %s; want %d records on %d partitions and one invocation", out, parts*n, parts)
	}

	round := func(name string) []run {
		var wg sync.WaitGroup
		runs := make([]run, procs)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i] = invoke(t, "mirror", environ)
			}()
		}
		wg.Wait()
		for _, r := range runs {
			if r.code != 0 {
				t.Fatalf("%s: %s", name, r)
			}
		}
		return runs
	}
	type result struct {
		records, transactions, claimed float64
		took                           time.Duration
	}
	read := func(r run) result {
		m := r.summary()
		f := m["flows"].([]any)[0].(map[string]any)
		return result{m["records"].(float64), f["transactions"].(float64), m["units_claimed"].(float64), r.duration}
	}

	var copied float64
	var copiers int
	var idle []time.Duration
	runs := round("overshoot")
	defer func() {
		if t.Failed() {
			for i, r := range runs {
				t.Logf("invocation %d: %s\n%s", i, r, r.stderr)
			}
		}
	}()
	for _, r := range runs {
		res := read(r)
		copied += res.records
		switch {
		case res.records > 0:
			copiers++
			t.Logf("copier: %v records, %v transactions, %v units, %v", res.records, res.transactions, res.claimed, res.took.Round(time.Millisecond))
		case res.transactions > 0:
			t.Errorf("an extra invocation committed %v transactions and copied nothing", res.transactions)
		default:
			idle = append(idle, res.took)
		}
	}
	if copied != parts*n {
		t.Errorf("the %d invocations copied %v records in all, want exactly the backlog %d", procs, copied, parts*n)
	}
	if copiers > parts {
		t.Errorf("%d invocations copied records over %d partitions of one transaction each: some partition was copied twice", copiers, parts)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, s.remote(s.topics[0])), parts, n); err != nil {
		t.Fatalf("after %d concurrent invocations: %v", procs, err)
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i] < idle[j] })
	t.Logf("%d copied, %d extras copied nothing; their wall times (process start to exit): %v", copiers, len(idle), idle)

	for _, r := range round("nothing left") {
		if res := read(r); res.records != 0 || res.claimed != 0 {
			t.Errorf("with nothing left an invocation claimed %v units and copied %v records", res.claimed, res.records)
		}
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, s.remote(s.topics[0])), parts, n); err != nil {
		t.Fatalf("after the idle round: %v", err)
	}
}
