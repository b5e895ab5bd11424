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

// brokerControl drives scripts/kafka-pair.sh on the pair the tests use.
// Killing or freezing a broker would break every other test on a shared
// pair, so these cases need one of their own: MIRROR_FAULTS_LONG=1 with
// KAFKA_PAIR_DIR, KAFKA_A_PORT and KAFKA_B_PORT naming it (make faults
// and scripts/soak.sh start it). Under CI=true a missing pair fails.
func brokerControl(t *testing.T) kafkatest.Pair {
	t.Helper()
	if !long() {
		t.Skip("broker faults need a pair of their own: run make faults (MIRROR_FAULTS_LONG=1)")
	}
	if os.Getenv("KAFKA_PAIR_DIR") == "" || os.Getenv("KAFKA_A_PORT") == "" || os.Getenv("KAFKA_B_PORT") == "" {
		t.Fatal("MIRROR_FAULTS_LONG=1 needs KAFKA_PAIR_DIR, KAFKA_A_PORT and KAFKA_B_PORT of the pair the tests may kill")
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
// that fail while a broker is away are expected and counted. It ends with
// the full verification.
func brokerFault(t *testing.T, fault func(t *testing.T)) {
	pair := brokerControl(t)
	s := newScenario(t, pair, 1, 4)
	environ := s.env("MIRROR_CONNECT_TIMEOUT=5s")
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 3000)
	l := s.startLoad(3000, 10)
	stop := make(chan struct{})
	runs := make(chan string, 1)
	go func() {
		var failed, ok int
		var last string
		for {
			select {
			case <-stop:
				runs <- fmt.Sprintf("%d runs ok, %d failed (last: %s)", ok, failed, last)
				return
			default:
			}
			for _, fn := range []string{"mirror", "checkpoint"} {
				r := start(t, fn, environ).wait(90 * time.Second)
				if r.code == 0 {
					ok++
				} else {
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

// A broker frozen with SIGSTOP for longer than the clients' request
// timeouts and the transaction timeout (10s here), then resumed.
func TestBrokerFrozen(t *testing.T) {
	for _, b := range []string{"B", "A"} {
		t.Run(b, func(t *testing.T) {
			brokerFault(t, func(t *testing.T) {
				pairCmd(t, "pause-broker", b)
				time.Sleep(35 * time.Second)
				pairCmd(t, "resume-broker", b)
			})
		})
	}
}
