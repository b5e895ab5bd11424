// Package faults is the fault suite (issue 7): the built mirror, reconcile
// and checkpoint programs run against the real Kafka pair while programs
// are SIGKILLed, invoked concurrently, and brokers are killed, restarted
// and frozen; topics and the progress group are deleted under them. Every
// case ends with the exactly-once check by sequence numbers per partition
// and the checkpoint monotonicity check.
//
// The default run (go test ./...) runs a short version on the shared pair;
// cases that kill or freeze brokers need a pair of their own and run with
// MIRROR_FAULTS_LONG=1 (make faults, which starts one), as do the full
// scale case and longer kill loops. scripts/soak.sh runs TestSoak.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/names"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

var binDir string

func TestMain(m *testing.M) { os.Exit(kafkatest.MainWithFunctions(m, &binDir)) }

// long reports whether the long suite runs (MIRROR_FAULTS_LONG=1).
func long() bool { return os.Getenv("MIRROR_FAULTS_LONG") == "1" }

// pick returns short or, in the long suite, long.
func pick[T any](short, lng T) T {
	if long() {
		return lng
	}
	return short
}

// scenario is one test's flow on the pair. Its cluster aliases are unique
// to the test, so its flow, progress group, leases, offset syncs,
// checkpoints and fencing ids are its own: a test may delete them without
// touching another test running on the same pair.
type scenario struct {
	t        *testing.T
	pair     kafkatest.Pair
	src, tgt string // aliases
	topics   []string
	parts    int32 // per topic
	group    string
	props    string
	extraEnv []string
}

func newScenario(t *testing.T, pair kafkatest.Pair, topics int, parts int32, extraProps ...string) *scenario {
	t.Helper()
	id := time.Now().UnixNano() % 1_000_000_000
	s := &scenario{t: t, pair: pair, src: fmt.Sprintf("s%d", id), tgt: fmt.Sprintf("t%d", id), parts: parts}
	base := kafkatest.Unique(t, "f")
	for i := 0; i < topics; i++ {
		s.topics = append(s.topics, fmt.Sprintf("%s-%d", base, i))
	}
	s.group = base + "-group"
	lines := []string{
		"clusters = " + s.src + ", " + s.tgt,
		s.src + ".bootstrap.servers = " + pair.A,
		s.tgt + ".bootstrap.servers = " + pair.B,
		s.src + "->" + s.tgt + ".enabled = true",
		s.src + "->" + s.tgt + ".topics = " + base + "-.*",
		s.src + "->" + s.tgt + ".groups = " + s.group,
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"heartbeats.replication.enabled = false",
		"offset.lag.max = 10",
		"sync.group.offsets.enabled = true",
	}
	lines = append(lines, extraProps...)
	s.props = filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(s.props, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adm := kafkatest.Admin(t, pair.A)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < len(s.topics); i += 100 {
		batch := s.topics[i:min(i+100, len(s.topics))]
		rs, err := adm.CreateTopics(ctx, parts, 1, nil, batch...)
		if err == nil {
			err = rs.Error()
		}
		if err != nil {
			t.Fatalf("create source topics: %v", err)
		}
	}
	return s
}

func (s *scenario) remote(topic string) string { return s.src + "." + topic }
func (s *scenario) flow() string               { return s.src + "->" + s.tgt }
func (s *scenario) progressGroup() string      { return names.ProgressGroup(s.flow()) }
func (s *scenario) checkpointsTopic() string   { return s.src + ".checkpoints.internal" }

// env is the programs' environment: small transactions and short leases
// keep every run busy long enough to be killed mid-flight, and let the
// next run take over a killed run's partitions soon.
func (s *scenario) env(extra ...string) []string {
	e := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"MIRROR_PROPERTIES_FILE=" + s.props, "MIRROR_TIME_BUDGET=20s", "MIRROR_SAFETY_MARGIN=3s",
		"MIRROR_BATCH_RECORDS=50", "MIRROR_LEASE_TTL=2s", "MIRROR_TRANSACTION_TIMEOUT=10s"}
	e = append(e, s.extraEnv...)
	return append(e, extra...)
}

// run is one program invocation's outcome.
type run struct {
	fn       string
	code     int
	stdout   string
	stderr   string
	killed   bool // by a signal: the test's kill, or the harness's at its limit (overran)
	overran  bool // still running at the limit wait gave it, and killed there
	duration time.Duration
}

func (r run) summary() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &m)
	return m
}

func (r run) String() string {
	state := fmt.Sprintf("killed %v", r.killed)
	if r.overran {
		state = "killed at the test's limit (overran)"
	}
	return fmt.Sprintf("%s exit %d %s after %v: %s%s", r.fn, r.code, state, r.duration.Round(time.Millisecond), strings.TrimSpace(r.stdout), lastLines(r.stderr, 5))
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 1 && l[0] == "" {
		return ""
	}
	return "\n  stderr: " + strings.Join(l, "\n  ")
}

// proc is a running program.
type proc struct {
	fn    string
	cmd   *exec.Cmd
	out   bytes.Buffer
	err   bytes.Buffer
	began time.Time
	done  chan run
}

func start(t testing.TB, fn string, environ []string) *proc {
	t.Helper()
	p := &proc{fn: fn, cmd: exec.Command(filepath.Join(binDir, fn)), began: time.Now(), done: make(chan run, 1)}
	p.cmd.Env = environ
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		r := run{fn: fn, stdout: p.out.String(), stderr: p.err.String(), duration: time.Since(p.began)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.killed = true
			}
		}
		p.done <- r
	}()
	return p
}

func (p *proc) kill() run {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	return <-p.done
}

// wait collects the program, killing it after limit; such a run
// overran, which a test counts as a failure of its own, never as an
// ordinary failed run or one of its kills.
func (p *proc) wait(limit time.Duration) run {
	select {
	case r := <-p.done:
		return r
	case <-time.After(limit):
		r := p.kill()
		r.code = -1
		r.overran = true
		return r
	}
}

// runLimit is how long a run of the scenario's programs may take: its
// time budget plus its safety margin (every run must end within them,
// whatever the brokers do), and 20 s for starting the process and closing
// its clients on a loaded machine. A run past it overran its budget.
func runLimit(environ []string) time.Duration {
	budget, margin := 50*time.Second, 5*time.Second // the programs' defaults
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
		case k == "MIRROR_TIME_BUDGET":
			budget = d
		case k == "MIRROR_SAFETY_MARGIN":
			margin = d
		}
	}
	return budget + margin + 20*time.Second
}

func invoke(t testing.TB, fn string, environ []string) run {
	t.Helper()
	return start(t, fn, environ).wait(runLimit(environ))
}

func mustInvoke(t testing.TB, fn string, environ []string) map[string]any {
	t.Helper()
	r := invoke(t, fn, environ)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	return r.summary()
}

// load produces sequence-numbered records to every partition of the
// scenario's topics and commits the source group at advancing positions
// (now and then a little back: a rewind), until stopped.
type load struct {
	s       *scenario
	stop    chan struct{}
	done    chan struct{}
	n       int // records per partition produced so far
	mu      sync.Mutex
	errs    []error
	batch   int
	commits int
}

func (s *scenario) startLoad(from, batch int) *load {
	l := &load{s: s, stop: make(chan struct{}), done: make(chan struct{}), n: from, batch: batch}
	prod := kafkatest.Producer(s.t, s.pair.A, kgo.RecordRetries(1<<30), kgo.RequestTimeoutOverhead(5*time.Second))
	adm := kafkatest.Admin(s.t, s.pair.A)
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			var recs []*kgo.Record
			for _, topic := range s.topics {
				for p := int32(0); p < s.parts; p++ {
					for j := l.n; j < l.n+l.batch; j++ {
						recs = append(recs, kafkatest.Record(topic, p, j))
					}
				}
			}
			err := prod.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			if err != nil {
				// Records of a failed batch may or may not have landed;
				// the sequence check could not tell a loss from this.
				l.fail(fmt.Errorf("produce batch at %d: %w", l.n, err))
				return
			}
			l.mu.Lock()
			l.n += l.batch
			n := l.n
			l.mu.Unlock()
			if i%3 == 0 {
				at := int64(n / 2)
				if i%15 == 0 {
					at = int64(n / 3) // a rewind
				}
				var os kadm.Offsets
				for _, topic := range s.topics[:min(len(s.topics), 20)] {
					for p := int32(0); p < s.parts; p++ {
						os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
					}
				}
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if _, err := adm.CommitOffsets(cctx, s.group, os); err == nil {
					l.mu.Lock()
					l.commits++
					l.mu.Unlock()
				}
				cancel()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// finish stops the load and returns the records produced per partition.
func (l *load) finish(t testing.TB) int {
	t.Helper()
	close(l.stop)
	<-l.done
	if len(l.errs) > 0 {
		t.Fatalf("load: %v", l.errs)
	}
	return l.n
}

// drain runs reconcile once, then mirror until a run reports no lag
// left, then checkpoint twice (the second sees the final syncs).
func (s *scenario) drain(t testing.TB, environ []string) {
	t.Helper()
	mustInvoke(t, "reconcile", environ)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		m := mustInvoke(t, "mirror", environ)
		if m["lag_left"].(float64) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror did not catch up within 10 minutes: %v", m)
		}
	}
	mustInvoke(t, "checkpoint", environ)
	mustInvoke(t, "checkpoint", environ)
}

// outcome is what verify found, for the table in docs/hardening.md.
type outcome struct {
	records    int // per partition
	partitions int
	lost, dups int // on the target, beyond what the source holds
	srcDups    int // written twice to the source by the load's producer
	checkpts   int
}

// verify drains and checks every partition exactly once, in order, and
// the checkpoints monotonic; it returns the counts for the report.
func (s *scenario) verify(t testing.TB, environ []string, produced int) outcome {
	t.Helper()
	// A group position on every partition of the first topic, so that
	// there are checkpoints to check even where no load committed any.
	var os kadm.Offsets
	for p := int32(0); p < s.parts; p++ {
		os.Add(kadm.Offset{Topic: s.topics[0], Partition: p, At: int64(produced / 2), LeaderEpoch: -1})
	}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kafkatest.Admin(t, s.pair.A).CommitOffsets(cctx, s.group, os); err != nil {
		t.Fatalf("commit source group: %v", err)
	}
	s.drain(t, environ)
	o := outcome{records: produced}
	for _, topic := range s.topics {
		dst := kafkatest.ReadAll(t, s.pair.B, s.remote(topic))
		lost, dups := lossAndDups(dst, s.parts, produced)
		// Exactly once is against the source's committed records. The
		// load's idempotent producer can itself write a batch twice when
		// the source broker is killed under it (seen once: 10 records per
		// partition, one load batch, in TestSourceBrokerKilledMidFetch),
		// so the source is read too: the target must hold its records,
		// in its order, once each; only duplicates beyond the source's
		// count against the mirror.
		src := kafkatest.ReadAll(t, s.pair.A, topic)
		_, srcDups := lossAndDups(src, s.parts, produced)
		o.lost += lost
		o.dups += dups - srcDups
		o.srcDups += srcDups
		o.partitions += int(s.parts)
		if srcDups == 0 {
			if err := kafkatest.ExactlyOnce(dst, s.parts, produced); err != nil {
				t.Errorf("%s: %v", s.remote(topic), err)
			}
			continue
		}
		t.Logf("%s: the source holds %d duplicated records written by the load's producer through the fault; the target must hold the same", topic, srcDups)
		if lost > 0 {
			t.Errorf("%s: %d sequence numbers missing", s.remote(topic), lost)
		}
		if err := sameSequences(src, dst, s.parts); err != nil {
			t.Errorf("%s against %s: %v", s.remote(topic), topic, err)
		}
	}
	o.checkpts = s.checkMonotonic(t)
	t.Logf("RESULT %s: %d partitions x %d records: lost %d, duplicated %d (source duplicates by the load's producer: %d); %d checkpoints, monotonic", t.Name(), o.partitions, produced, o.lost, o.dups, o.srcDups, o.checkpts)
	return o
}

// sameSequences checks that every partition of dst holds the sequence
// numbers of src's, in the same order.
func sameSequences(src, dst []*kgo.Record, parts int32) error {
	sp, dp := kafkatest.ByPartition(src), kafkatest.ByPartition(dst)
	for p := int32(0); p < parts; p++ {
		if len(sp[p]) != len(dp[p]) {
			return fmt.Errorf("partition %d: %d records, the source %d", p, len(dp[p]), len(sp[p]))
		}
		for i := range sp[p] {
			if a, b := kafkatest.Seq(sp[p][i]), kafkatest.Seq(dp[p][i]); a != b {
				return fmt.Errorf("partition %d: record %d has sequence %d, the source's %d", p, i, b, a)
			}
		}
	}
	return nil
}

// lossAndDups counts missing and duplicated sequence numbers.
func lossAndDups(recs []*kgo.Record, parts int32, want int) (lost, dups int) {
	seen := map[[2]int64]int{}
	for _, r := range recs {
		seen[[2]int64{int64(r.Partition), kafkatest.Seq(r)}]++
	}
	for p := int32(0); p < parts; p++ {
		for i := 0; i < want; i++ {
			switch n := seen[[2]int64{int64(p), int64(i)}]; {
			case n == 0:
				lost++
			case n > 1:
				dups += n - 1
			}
		}
	}
	return lost, dups
}

// checkMonotonic reads the flow's checkpoints topic in order and checks
// MM2's rule per group and partition: the downstream offset never
// decreases unless the upstream (the group's source offset) did. It
// returns how many checkpoints it read, and fails if there are none (the
// check would prove nothing).
func (s *scenario) checkMonotonic(t testing.TB) int {
	t.Helper()
	recs := kafkatest.ReadAll(t, s.pair.B, s.checkpointsTopic())
	type key struct {
		group, topic string
		partition    int32
	}
	last := map[key]offsetsync.Checkpoint{}
	for _, r := range recs {
		cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value)
		if err != nil {
			t.Errorf("checkpoint at offset %d does not decode: %v", r.Offset, err)
			continue
		}
		k := key{cp.Group, cp.Topic, cp.Partition}
		if prev, ok := last[k]; ok && cp.Downstream < prev.Downstream && cp.Upstream >= prev.Upstream {
			t.Errorf("checkpoint went back: %s %s/%d from upstream %d downstream %d to upstream %d downstream %d (offset %d)",
				cp.Group, cp.Topic, cp.Partition, prev.Upstream, prev.Downstream, cp.Upstream, cp.Downstream, r.Offset)
		}
		last[k] = cp
	}
	if len(recs) == 0 {
		t.Errorf("no checkpoints in %s: the monotonicity check proves nothing", s.checkpointsTopic())
	}
	return len(recs)
}
