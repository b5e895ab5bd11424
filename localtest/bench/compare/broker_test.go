package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestPartitionDirTopic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, topic string
		ok          bool
	}{
		{"ML.bench-w1-r2-11", "ML.bench-w1-r2", true},
		{"ML.bench-w1-0", "ML.bench-w1", true},
		{"pipe.bench-w1-3.9c1f0a2b4d5e4f60a1b2c3d4e5f60718-delete", "pipe.bench-w1", true},
		{"ML.bench-w1-3.abc-future", "ML.bench-w1", true},
		{"__consumer_offsets-49", "__consumer_offsets", true},
		{"meta.properties", "", false},
		{"recovery-point-offset-checkpoint", "", false},
		{"ML.bench-w1-", "", false},
		{"-3", "", false},
	} {
		got, ok := partitionDirTopic(tc.name)
		if got != tc.topic || ok != tc.ok {
			t.Errorf("partitionDirTopic(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.topic, tc.ok)
		}
	}
}

// A topic's directories are counted, another topic whose name starts the
// same is not.
func TestPartitionDirsLeft(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"ML.bench-w1-0", "ML.bench-w1-1.0123abcd-delete", "ML.bench-w1-r2-0", "ML.bench-w2-0", "cleaner-offset-checkpoint"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := partitionDirsLeft([]string{dir}, []string{"ML.bench-w1"}); got != 2 {
		t.Errorf("ML.bench-w1: %d directories left, want 2", got)
	}
	if got := partitionDirsLeft([]string{dir}, []string{"ML.bench-w1-r3"}); got != 0 {
		t.Errorf("ML.bench-w1-r3: %d directories left, want 0", got)
	}
}

// brokerPid finds the process that listens on a port (here this test
// process), even when the pid file names another process, and nothing for
// a port no one listens on.
func TestBrokerPid(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on IPv4 loopback: %v", err)
	}
	addr := ln.Addr().String()
	pairDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(pairDir, "B"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pairDir, "B", "pid"), []byte(strconv.Itoa(os.Getppid())), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_PAIR_DIR", pairDir)
	if pid, how := brokerPid(addr, "B"); pid != os.Getpid() {
		t.Errorf("brokerPid(%s) = %d (%s), want this process %d", addr, pid, how, os.Getpid())
	}
	if err := os.WriteFile(filepath.Join(pairDir, "B", "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if pid, how := brokerPid(addr, "B"); pid != os.Getpid() || how != "pid file "+filepath.Join(pairDir, "B", "pid") {
		t.Errorf("brokerPid(%s) with a right pid file = %d (%s), want %d from the pid file", addr, pid, how, os.Getpid())
	}
	ln.Close()
	if pid, how := brokerPid(addr, "B"); pid != 0 {
		t.Errorf("brokerPid(%s) after close = %d (%s), want 0", addr, pid, how)
	}
}

func TestFastestPipe(t *testing.T) {
	t.Parallel()
	pair := func(round int, pipeMBps, mlMBps float64) roundPair {
		// 1e6 bytes in Wall seconds: MB/s = 1 / Wall.
		return roundPair{round: round,
			pipe: &result{Bytes: 1e6, Wall: secondsDur(1 / pipeMBps)},
			ml:   &result{Bytes: 1e6, Wall: secondsDur(1 / mlMBps)}}
	}
	ps := []roundPair{pair(1, 170, 170), pair(2, 400, 250), pair(3, 200, 220)}
	fast := fastestPipe(ps)
	if len(fast) != 1 || fast[0].round != 2 {
		t.Fatalf("fastest of 3 rounds: %v, want round 2", fast)
	}
	if r := fast[0].ratio(); r < 0.62 || r > 0.63 {
		t.Errorf("ratio in round 2 = %.3f, want 0.625", r)
	}
	ps = append(ps, pair(4, 300, 240), pair(5, 100, 120))
	fast = fastestPipe(ps)
	if len(fast) != 2 || fast[0].round != 2 || fast[1].round != 4 {
		t.Errorf("fastest of 5 rounds: %d rounds %v, want rounds 2 and 4", len(fast), fast)
	}
}

func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Batch mode runs at the defaults; tail mode sets MIRROR_TAIL and a budget
// of one interval plus the margin unless -latency-tail-budget says another.
func TestLatencyEnv(t *testing.T) {
	t.Parallel()
	o := &options{latencySchedule: 10 * time.Second}
	if got := latencyEnv("batch", o); got != nil {
		t.Errorf("batch: %v, want none", got)
	}
	want := "[MIRROR_TAIL=true MIRROR_TIME_BUDGET=15s MIRROR_SAFETY_MARGIN=5s]"
	if got := fmt.Sprint(latencyEnv("tail", o)); got != want {
		t.Errorf("tail: %s, want %s", got, want)
	}
	o.latencyTailBudget = time.Minute
	want = "[MIRROR_TAIL=true MIRROR_TIME_BUDGET=1m0s MIRROR_SAFETY_MARGIN=5s]"
	if got := fmt.Sprint(latencyEnv("tail", o)); got != want {
		t.Errorf("tail, budget 1m: %s, want %s", got, want)
	}
}
