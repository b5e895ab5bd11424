package faults

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
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
// producing. Leases share the work, fencing keeps overlaps safe: every run
// exits 0, some unit or checkpoint run is fenced (rounds go on, up to 4x,
// until one is: overlaps are likely, not certain), and every record is
// there exactly once.
func TestConcurrentSameEvent(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 2, 4)
	environ := s.env("MIRROR_MAX_UNITS=3", "MIRROR_TIME_BUDGET=6s")
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
