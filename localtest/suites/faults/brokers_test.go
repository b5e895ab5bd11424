package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// brokerControl returns the pair the broker cases may kill and freeze: one
// of their own, never the shared pair the other tests run on while these
// run. localtest/suites/faults/run.sh starts it and sets MIRROR_FAULTS_OWN_PAIR=1,
// with KAFKA_PAIR_DIR, KAFKA_A_PORT and KAFKA_B_PORT naming it; make test
// runs the short version of these cases through it, make faults the long
// one, scripts/soak.sh the soak. Anywhere else the case skips, and under
// CI=true fails: a case that did not run proves nothing.
func brokerControl(t *testing.T) kafkatest.Pair {
	t.Helper()
	if os.Getenv("MIRROR_FAULTS_OWN_PAIR") != "1" || os.Getenv("KAFKA_PAIR_DIR") == "" || os.Getenv("KAFKA_A_PORT") == "" || os.Getenv("KAFKA_B_PORT") == "" {
		const msg = "broker faults need a Kafka pair of their own: run them with localtest/suites/faults/run.sh (make test runs their short version, make faults the long one)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return kafkatest.Real(t)
}

// pairCmd runs scripts/kafka-pair.sh with the test's pair environment.
func pairCmd(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"../../../scripts/kafka-pair.sh"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-pair.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// brokerFault runs a mirror over a backlog while producing, applies the
// fault after a delay, and keeps invoking the programs through it; runs
// that fail while a broker is away are expected and counted, a run that
// overruns its budget (runLimit) fails the test. It ends with the full
// verification.
func brokerFault(t *testing.T, fault func(t *testing.T)) {
	pair := brokerControl(t)
	s := newScenario(t, pair, 1, 4)
	environ := s.env("MIRROR_CONNECT_TIMEOUT=5s")
	limit := runLimit(environ)
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 3000)
	l := s.startLoad(3000, 10)
	stop := make(chan struct{})
	runs := make(chan string, 1)
	go func() {
		var failed, ok int
		var last string
		var longest time.Duration
		for {
			select {
			case <-stop:
				runs <- fmt.Sprintf("%d runs ok, %d failed, longest %v (limit %v; last failure: %s)", ok, failed, longest.Round(time.Millisecond), limit, last)
				return
			default:
			}
			for _, fn := range []string{"mirror", "checkpoint"} {
				r := start(t, fn, environ).wait(limit)
				longest = max(longest, r.duration)
				switch {
				case r.overran:
					t.Errorf("a run overran its budget through the fault: %s", r)
				case r.code == 0:
					ok++
				default:
					failed++
					last = r.String()
					time.Sleep(200 * time.Millisecond) // a broker is away: do not spin
				}
			}
		}
	}()
	time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
	fault(t)
	time.Sleep(3 * time.Second)
	close(stop)
	t.Log(<-runs)
	n := l.finish(t)
	s.verify(t, environ, n)
}

// The target broker killed (SIGKILL) while the mirror has transactions
// open, then restarted.
func TestTargetBrokerKilledMidTransaction(t *testing.T) {
	brokerFault(t, func(t *testing.T) {
		pairCmd(t, "kill-broker", "B")
		time.Sleep(2 * time.Second)
		pairCmd(t, "start-broker", "B")
	})
}

// The source broker killed (SIGKILL) while the mirror fetches, then
// restarted; the producer keeps retrying through it.
func TestSourceBrokerKilledMidFetch(t *testing.T) {
	brokerFault(t, func(t *testing.T) {
		pairCmd(t, "kill-broker", "A")
		time.Sleep(2 * time.Second)
		pairCmd(t, "start-broker", "A")
	})
}

// A broker frozen with SIGSTOP for longer than the transaction timeout
// (10s here; 12 s frozen in the short version, 35 s in the long one, past
// the clients' request timeouts too), then resumed.
func TestBrokerFrozen(t *testing.T) {
	brokerControl(t) // the parent skips or fails itself, not only its subtests
	frozen := pick(12*time.Second, 35*time.Second)
	for _, b := range []string{"B", "A"} {
		t.Run(b, func(t *testing.T) {
			brokerFault(t, func(t *testing.T) {
				pairCmd(t, "pause-broker", b)
				time.Sleep(frozen)
				pairCmd(t, "resume-broker", b)
			})
		})
	}
}
