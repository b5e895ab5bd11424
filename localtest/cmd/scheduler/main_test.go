package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// buildScheduler builds this program, as `go run ./localtest/cmd/scheduler` would.
func buildScheduler(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scheduler")
	if err := kafkatest.Build(context.Background(), bin, "localtest/cmd/scheduler", false); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSchedulerRealPair runs the scheduler against the real pair: reconcile first, then
// mirror and checkpoint on their intervals, never overlapping; records produced while it runs
// are copied by a later tick; every source record is on the target exactly once.
func TestSchedulerRealPair(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "sched")
	const partitions, n = 3, 1000 // records per partition per batch
	kafkatest.CreateTopic(t, pair.A, topic, partitions, nil)
	producer := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, producer, topic, partitions, 0, n)
	props := kafkatest.Properties(t, pair, "A->B.topics = "+topic, "A->B.groups = none-"+topic)

	bin := buildScheduler(t)
	// -for bounds scheduling only; runs in flight finish. The intervals are short and the
	// run-count checks loose: on a loaded 2-core machine one run can take several seconds.
	cmd := exec.Command(bin, "-mirror", "2s", "-reconcile", "5m", "-checkpoint", "3s", "-for", "20s", "-logs", t.TempDir())
	cmd.Env = append(os.Environ(), "MIRROR_PROPERTIES_FILE="+props, "MIRROR_TIME_BUDGET=20s")
	var stdout, stderr kafkatest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A second batch once the first mirror run has been reported.
	for !strings.Contains(stdout.String(), " mirror ") && time.Since(began) < 90*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	kafkatest.ProduceSeq(t, producer, topic, partitions, n, 2*n)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scheduler: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("scheduler ran %v:\n%s", time.Since(began).Round(time.Millisecond), out)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !regexp.MustCompile(`^\S+ reconcile .* ok \d+ planned, \d+ applied, 0 failed`).MatchString(lines[0]) {
		t.Fatalf("first line should be a successful reconcile:\n%s", out)
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a run failed:\n%s\nstderr:\n%s", out, stderr.String())
	}
	mirrors := regexp.MustCompile(`(?m)^\S+ mirror .* ok `).FindAllString(out, -1)
	checkpoints := regexp.MustCompile(`(?m)^\S+ checkpoint .* ok `).FindAllString(out, -1)
	if len(mirrors) < 2 || len(checkpoints) < 2 {
		t.Errorf("%d mirror and %d checkpoint runs in 20 s, want at least 2 of each", len(mirrors), len(checkpoints))
	}
	if n := len(regexp.MustCompile(`(?m)^\S+ reconcile `).FindAllString(out, -1)); n != 1 {
		t.Errorf("reconcile ran %d times with a 5m interval, want 1", n)
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "status: A->B lag 0, ") || !strings.Contains(last, " 6000 copied") {
		t.Errorf("final status %q: want A->B with lag 0 and 6000 copied", last)
	}
	if !strings.Contains(stderr.String(), "building checkpoint") {
		t.Errorf("checkpoint was not built:\n%s", stderr.String())
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), partitions, 2*n); err != nil {
		t.Fatal(err)
	}
}

// TestSchedulerInterrupt: SIGINT stops the scheduler while a run is in progress; the running
// program gets SIGTERM, finishes, and the scheduler exits 0 with its final status.
func TestSchedulerInterrupt(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "sched-int")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	props := kafkatest.Properties(t, pair, "A->B.topics = "+topic)
	bin := buildScheduler(t)
	cmd := exec.Command(bin, "-functions", "reconcile,mirror", "-mirror", "1s")
	cmd.Env = append(os.Environ(), "MIRROR_PROPERTIES_FILE="+props)
	var stdout, stderr kafkatest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first mirror run to be reported, then interrupt.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), " mirror ") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("scheduler exited with %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Fatalf("scheduler did not stop within 45 s of SIGINT\n%s\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopping") || !strings.Contains(stdout.String(), "status: ") {
		t.Errorf("no stop message or final status:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// TestSchedulerBadInput: without a properties file it exits 2 at once and says what to set.
func TestSchedulerBadInput(t *testing.T) {
	bin := buildScheduler(t)
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{"MIRROR_PROPERTIES_FILE=", "MIRROR_PROPERTIES="}, "MIRROR_PROPERTIES_FILE is not set"},
		{[]string{"-functions", "mirror,copy"}, []string{"MIRROR_PROPERTIES_FILE=/x"}, `-functions: "copy" is not one of`},
		{[]string{"-mirror", "0s"}, []string{"MIRROR_PROPERTIES_FILE=/x"}, "-mirror must be positive"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: err %v, output %q; want exit 2 and %q", c.args, err, out, c.want)
		}
	}
}

// TestSchedulerFansOut: with one partition per invocation and three partitions behind, a
// mirror tick runs three mirror processes at once (mirror size says so), reported as one line
// that counts them; by the end every record is copied exactly once.
func TestSchedulerFansOut(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "sched-fan")
	const partitions, n = 3, 300
	kafkatest.CreateTopic(t, pair.A, topic, partitions, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, partitions, 0, n)
	props := kafkatest.Properties(t, pair, "A->B.topics = "+topic)
	bin := buildScheduler(t)
	cmd := exec.Command(bin, "-functions", "reconcile,mirror", "-mirror", "2s", "-for", "7s", "-logs", t.TempDir())
	cmd.Env = append(os.Environ(), "MIRROR_PROPERTIES_FILE="+props, "MIRROR_TIME_BUDGET=20s", "MIRROR_MAX_UNITS=1", "MIRROR_MAX_CONCURRENCY=5")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scheduler: %v\n%s", err, out)
	}
	t.Logf("scheduler:\n%s", out)
	first := regexp.MustCompile(`(?m)^\S+ mirror .*$`).FindString(string(out))
	// Not asserted: that the three cleared it all. Processes that start together can take the
	// same partition's lease (the lease is a group offset, with no compare-and-set): one is
	// fenced and a partition waits for the next tick. MIRROR_FANOUT_INDEX makes them prefer
	// different partitions: the first tick cleared all 900 in 4 runs of 4 with it, in 1 of 3
	// without (3 units, 600 records, 1 fenced).
	if !strings.Contains(first, "[3 processes: 900 records behind on 3 partitions]") {
		t.Errorf("first mirror tick %q: want 3 processes sized on 900 records on 3 partitions", first)
	}
	if last := strings.TrimSpace(string(out))[strings.LastIndex(strings.TrimSpace(string(out)), "\n")+1:]; !strings.Contains(last, "lag 0, ") || !strings.Contains(last, " 900 copied") {
		t.Errorf("final status %q: want lag 0 and 900 copied", last)
	}
	if strings.Contains(string(out), "FAILED") {
		t.Errorf("a run failed:\n%s", out)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), partitions, n); err != nil {
		t.Fatal(err)
	}
}
