package faults

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSoak is scripts/soak.sh's body: MIRROR_SOAK_MINUTES of steady load
// with the three programs on their schedules (mirror back to back,
// checkpoint every few seconds, reconcile every half minute), and every
// 20-40 s a fault: a program SIGKILLed, a broker killed and restarted, or
// frozen past the timeouts and resumed. It ends with the full
// verification. It runs only when MIRROR_SOAK_MINUTES is set; under
// CI=true a run that includes it without that fails (run.sh and
// scripts/test.sh leave it out).
func TestSoak(t *testing.T) {
	minutes, _ := strconv.Atoi(os.Getenv("MIRROR_SOAK_MINUTES"))
	if minutes <= 0 {
		const msg = "the soak runs from scripts/soak.sh (MIRROR_SOAK_MINUTES); leave it out with -skip '^TestSoak$'"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	pair := brokerControl(t)
	s := newScenario(t, pair, 4, 4)
	environ := s.env("MIRROR_CONNECT_TIMEOUT=5s", "MIRROR_MAX_UNITS=8")
	limit := runLimit(environ)
	mustInvoke(t, "reconcile", environ)
	l := s.startLoad(0, 5)
	end := time.Now().Add(time.Duration(minutes) * time.Minute)

	var mu sync.Mutex
	stats := map[string]int{}
	count := func(k string) { mu.Lock(); stats[k]++; mu.Unlock() }
	var running sync.Map // *proc -> fn
	schedule := func(fn string, every time.Duration) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for time.Now().Before(end) {
				p := start(t, fn, environ)
				running.Store(p, fn)
				r := p.wait(limit)
				running.Delete(p)
				switch {
				case r.overran:
					count(fn + " overran")
					t.Errorf("a run overran its budget: %s", r)
				case r.killed:
					count(fn + " killed")
				case r.code == 0:
					count(fn + " ok")
				default:
					count(fn + " failed")
				}
				time.Sleep(every)
			}
		}()
		return done
	}
	waits := []chan struct{}{
		schedule("mirror", 200*time.Millisecond),
		schedule("mirror", 500*time.Millisecond), // overlap
		schedule("checkpoint", 3*time.Second),
		schedule("reconcile", 30*time.Second),
	}
	faults := []string{"kill-program", "kill-program", "kill-broker B", "kill-broker A", "pause B", "pause A"}
	for time.Now().Add(45 * time.Second).Before(end) {
		time.Sleep(time.Duration(20+rand.IntN(20)) * time.Second)
		f := faults[rand.IntN(len(faults))]
		switch f {
		case "kill-program":
			running.Range(func(k, v any) bool {
				if rand.IntN(2) == 0 {
					_ = k.(*proc).cmd.Process.Kill()
				}
				return true
			})
		case "kill-broker A", "kill-broker B":
			b := f[len(f)-1:]
			pairCmd(t, "kill-broker", b)
			time.Sleep(time.Duration(rand.IntN(5)) * time.Second)
			pairCmd(t, "start-broker", b)
		case "pause A", "pause B":
			b := f[len(f)-1:]
			pairCmd(t, "pause-broker", b)
			time.Sleep(time.Duration(15+rand.IntN(20)) * time.Second)
			pairCmd(t, "resume-broker", b)
		}
		count("fault " + f)
		t.Logf("%s fault %s", time.Now().Format(time.TimeOnly), f)
	}
	for _, w := range waits {
		<-w
	}
	n := l.finish(t)
	t.Logf("soak of %d minutes: %v; %d records per partition produced", minutes, stats, n)
	s.verify(t, environ, n)
}
