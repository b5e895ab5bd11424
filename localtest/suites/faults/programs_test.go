package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/names"
)

// SIGKILL of mirror, reconcile and checkpoint at random points, repeated,
// while producing and while the source group commits: every record
// exactly once, checkpoints monotonic.
func TestSigkillEachProgram(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 2, 3)
	environ := s.env()
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 1000)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[1], s.parts, 0, 1000)
	l := s.startLoad(1000, 10)

	rounds := pick(6, 40)
	kills := map[string]int{}
	completed := map[string]int{}
	// Each program's kill window starts at 1.2 s; a run that finishes
	// before its kill narrows its program's window to that run's length,
	// so fast programs (reconcile over a few topics) are still killed
	// mid-flight. Rounds go on (up to 4x) until each was killed enough.
	window := map[string]time.Duration{"mirror": 1200 * time.Millisecond, "checkpoint": 1200 * time.Millisecond, "reconcile": 1200 * time.Millisecond}
	enough := func() bool {
		for _, fn := range []string{"mirror", "checkpoint", "reconcile"} {
			if kills[fn] < max(1, rounds/4) {
				return false
			}
		}
		return true
	}
	for i := 0; i < rounds || (!enough() && i < 4*rounds); i++ {
		// All three at once, as their schedules would overlap; each is
		// killed at a random point from start-up to deep in its work, or
		// (one time in four) left to finish.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, fn := range []string{"mirror", "checkpoint", "reconcile"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := start(t, fn, environ)
				var r run
				mu.Lock()
				w := window[fn]
				mu.Unlock()
				killAt := 20*time.Millisecond + rand.N(w)
				if rand.IntN(4) == 0 {
					r = p.wait(runLimit(environ))
				} else {
					time.Sleep(killAt)
					r = p.kill()
				}
				mu.Lock()
				defer mu.Unlock()
				if !r.killed && r.code == 0 && r.duration < killAt {
					window[fn] = max(15*time.Millisecond, r.duration*3/4)
				}
				switch {
				case r.overran:
					t.Errorf("run %d: a run left to finish overran its budget: %s", i, r)
				case r.killed:
					kills[fn]++
				case r.code == 0:
					completed[fn]++
				default:
					t.Errorf("run %d: %s", i, r)
				}
			}()
		}
		wg.Wait()
		time.Sleep(time.Duration(rand.IntN(800)) * time.Millisecond) // sometimes before the leases expire
	}
	n := l.finish(t)
	for _, fn := range []string{"mirror", "checkpoint", "reconcile"} {
		if kills[fn] < max(1, rounds/4) {
			t.Errorf("%s was killed only %d times in %d rounds", fn, kills[fn], rounds)
		}
	}
	t.Logf("kills %v, completed runs %v, group commits %d", kills, completed, l.commits)
	s.verify(t, environ, n)
}

// Concurrent invocations of each function: three mirrors, two checkpoints
// and two reconciles started together with the same event (a schedule
// overlap, or Lambda delivering the same event twice), repeatedly, while
// producing. Leases share the work (a work group each), fencing keeps
// overlaps safe: every run
// exits 0, some unit or checkpoint run is fenced (rounds go on, up to 4x,
// until one is: overlaps are likely, not certain), and every record is
// there exactly once.
func TestConcurrentSameEvent(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 2, 4)
	// Three work groups, so that three mirrors have a group each to take:
	// with one, the group's holder copies and the others pass it over
	// (issue 17), and the spread below would be asserted of nothing.
	environ := s.env("MIRROR_MAX_UNITS=3", "MIRROR_TIME_BUDGET=6s", "MIRROR_GROUPS=3")
	// The first deployment's reconcile; until it ran, checkpoint rightly
	// exits 1 ("waiting for reconcile").
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 1000)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[1], s.parts, 0, 1000)
	l := s.startLoad(1000, 10)
	claimed := map[int]float64{}
	var fenced float64
	checkpointFenced := 0
	rounds := pick(3, 10)
	round := 0
	for ; round < rounds || (fenced+float64(checkpointFenced) == 0 && round < 4*rounds); round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		fns := []string{"mirror", "mirror", "mirror", "checkpoint", "checkpoint", "reconcile", "reconcile"}
		for i, fn := range fns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := invoke(t, fn, environ)
				if r.code != 0 {
					t.Errorf("round %d: %s", round, r)
					return
				}
				m := r.summary()
				mu.Lock()
				defer mu.Unlock()
				switch fn {
				case "mirror":
					claimed[i] += m["units_claimed"].(float64)
					fenced += m["flows"].([]any)[0].(map[string]any)["fenced"].(float64)
				case "checkpoint":
					if f, _ := m["flows"].([]any)[0].(map[string]any)["fenced"].(bool); f {
						checkpointFenced++
					}
				}
			}()
		}
		wg.Wait()
	}
	n := l.finish(t)
	for i := 0; i < 3; i++ {
		if claimed[i] == 0 {
			t.Errorf("mirror %d never claimed a partition (claimed %v): leases did not spread the work", i, claimed)
		}
	}
	t.Logf("%d rounds: mirrors claimed %v units, fenced on %v; checkpoint runs fenced %d", round, claimed, fenced, checkpointFenced)
	if fenced+float64(checkpointFenced) == 0 {
		t.Errorf("nothing was fenced in %d rounds of concurrent invocations: the overlap this case is about never happened", round)
	}
	s.verify(t, environ, n)
}

// Issue 17: mirrors that want different numbers of work groups
// (MIRROR_GROUPS 1, 2, 3 and 5) start together, round after round, while
// producing; half of them are SIGKILLed at a random point (in the
// middle of changing the assignment, of fencing the old groups, or of a
// group's transaction), the others run to the end. Every record must be
// there exactly once, the assignment must have changed at least once a
// round, and some runs must have had their groups fenced under them
// (rounds go on, up to 4x, until some are), or the case proved nothing.
func TestConcurrentGroupsSigkill(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 2, 3)
	environ := s.env("MIRROR_TIME_BUDGET=6s")
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 1000)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[1], s.parts, 0, 1000)
	// A heavier load than the other cases', and a second between rounds,
	// so that each round starts with a backlog of many transactions
	// (MIRROR_BATCH_RECORDS=50) and a change meets open ones.
	l := s.startLoad(1000, 40)
	ks := []int{1, 2, 3, 5}
	var (
		mu         sync.Mutex
		kills      int
		completed  int
		fenced     float64
		brokerRace int // runs failed by Kafka 4.1's EndTxn race with a fence (see below)
		groupsSeen = map[float64]int{}
		// The kill window starts at 1.5 s; a run that finishes before its
		// kill narrows it to that run's length (as in
		// TestSigkillEachProgram), so runs are killed mid-flight.
		window = 1500 * time.Millisecond
	)
	rounds := pick(4, 12)
	round := 0
	for ; round < rounds || ((fenced == 0 || kills < round) && round < 4*rounds); round++ {
		var wg sync.WaitGroup
		for i, k := range ks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				env := append(append([]string{}, environ...), fmt.Sprintf("MIRROR_GROUPS=%d", k))
				p := start(t, "mirror", env)
				var r run
				mu.Lock()
				killAt := 20*time.Millisecond + rand.N(window)
				mu.Unlock()
				target := (round+i)%2 == 0
				if target {
					time.Sleep(killAt)
					r = p.kill()
				} else {
					r = p.wait(runLimit(env))
				}
				mu.Lock()
				defer mu.Unlock()
				if target && !r.killed && r.code == 0 && r.duration < killAt {
					window = max(15*time.Millisecond, r.duration*3/4)
				}
				switch {
				case r.overran:
					t.Errorf("round %d: a run left to finish overran its budget: %s", round, r)
				case r.killed:
					kills++
				case r.code == 0:
					completed++
					if flows, _ := r.summary()["flows"].([]any); len(flows) == 1 {
						f := flows[0].(map[string]any)
						fenced += f["fenced"].(float64)
						g, _ := f["groups"].(float64)
						groupsSeen[g]++
					}
				case strings.Contains(r.stdout+r.stderr, "work-group assignment") && strings.Contains(r.stdout+r.stderr, "UNKNOWN_SERVER_ERROR"):
					// Kafka 4.1 answers an EndTxn that meets a fence of
					// the same id in progress (PREPARE_EPOCH_FENCE) with
					// UNKNOWN_SERVER_ERROR (an IllegalStateException in
					// its transaction coordinator): the changer whose
					// assignment write met another changer's fence fails
					// this run. Counted and shown, not hidden.
					brokerRace++
					t.Logf("round %d: MIRROR_GROUPS=%d failed on the broker's EndTxn race: %s", round, k, r)
				default:
					t.Errorf("round %d: MIRROR_GROUPS=%d: %s", round, k, r)
				}
			}()
		}
		wg.Wait()
		time.Sleep(time.Second)
	}
	n := l.finish(t)
	gen := s.assignmentGeneration(t)
	t.Logf("%d rounds: %d runs killed, %d completed (work groups %v), %v lanes fenced in completed runs, %d runs failed by the broker's EndTxn race; assignment generation %d",
		round, kills, completed, groupsSeen, fenced, brokerRace, gen)
	if kills < round {
		t.Errorf("%d runs killed in %d rounds; want at least one a round", kills, round)
	}
	if gen < int64(round) {
		t.Errorf("the assignment changed %d times in %d rounds; want at least once a round", gen, round)
	}
	if fenced == 0 {
		t.Errorf("no lane of a completed run was fenced in %d rounds: the overlap this case is about never happened", round)
	}
	s.verify(t, environ, n)
}

// assignmentGeneration is the generation of the flow's work-group
// assignment (its entry's offset in names.AssignmentGroup), 0 if none.
func (s *scenario) assignmentGeneration(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kafkatest.Admin(t, s.pair.B).FetchOffsets(ctx, names.AssignmentGroup(s.flow()))
	if err != nil {
		t.Fatalf("read the assignment of %s: %v", s.flow(), err)
	}
	var gen int64
	resp.Each(func(o kadm.OffsetResponse) { gen = max(gen, o.At) })
	return gen
}
