package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// mirrorSummary is the part of the mirror program's JSON summary the bench reads.
type mirrorSummary struct {
	OK           bool   `json:"ok"`
	DurationMs   int64  `json:"duration_ms"`
	UnitsClaimed int    `json:"units_claimed"`
	Records      int64  `json:"records"`
	Bytes        int64  `json:"bytes"`
	LagLeft      int64  `json:"lag_left"`
	Error        string `json:"error"`
	Flows        []struct {
		Errors  []string `json:"errors"`
		Waiting []string `json:"waiting_for_reconcile"`
	} `json:"flows"`
}

// invocation is one run of a function program.
type invocation struct {
	Wall time.Duration
	Use  usage
	Exit int
	Sum  mirrorSummary
	// Conns: TCP connections opened per broker address (invokeTracked only).
	Conns map[string]int
}

// mirrorProps is the MM2 properties text for mirrorless: source alias
// `alias`, so the remote topics are <alias>.<topic>.
func mirrorProps(o *options, alias, topics string) string {
	return strings.Join([]string{
		"# written by localtest/bench/compare",
		"clusters = " + alias + ", B",
		alias + ".bootstrap.servers = " + o.a,
		"B.bootstrap.servers = " + o.b,
		alias + "->B.enabled = true",
		"B->" + alias + ".enabled = false",
		alias + "->B.topics = " + topics,
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"",
	}, "\n")
}

// invoke runs a function program once (outside Lambda: one invocation,
// JSON summary on stdout) with the properties in MIRROR_PROPERTIES.
func invoke(ctx context.Context, bin, props, logPath string, extraEnv ...string) (invocation, error) {
	return invokeTracked(ctx, bin, props, logPath, nil, extraEnv...)
}

// invokeTracked is invoke that also counts the TCP connections the program
// opens to each address of addrs (runTracked) into inv.Conns.
func invokeTracked(ctx context.Context, bin, props, logPath string, addrs []string, extraEnv ...string) (invocation, error) {
	var inv invocation
	logf2, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return inv, err
	}
	defer logf2.Close()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = childEnv(append([]string{"MIRROR_PROPERTIES=" + props}, extraEnv...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, logf2
	t0 := time.Now()
	rss, conns, runErr := runTracked(cmd, addrs)
	inv.Conns = conns
	inv.Wall = time.Since(t0)
	inv.Use = rusage(cmd)
	inv.Use.MaxRSS = rss
	inv.Exit = -1
	if cmd.ProcessState != nil {
		inv.Exit = cmd.ProcessState.ExitCode()
	} else {
		return inv, runErr
	}
	line := lastJSON(stdout.Bytes())
	if line == nil {
		return inv, fmt.Errorf("%s exited %d without a JSON summary (stderr in %s)", filepath.Base(bin), inv.Exit, logPath)
	}
	if err := json.Unmarshal(line, &inv.Sum); err != nil {
		return inv, fmt.Errorf("summary of %s: %w", filepath.Base(bin), err)
	}
	if inv.Exit != 0 {
		return inv, fmt.Errorf("%s exited %d: %s (stderr in %s)", filepath.Base(bin), inv.Exit, inv.Sum.Error, logPath)
	}
	return inv, nil
}

func lastJSON(out []byte) []byte {
	var line []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	for sc.Scan() {
		if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 && b[0] == '{' {
			line = append(line[:0], b...)
		}
	}
	return line
}

// runMirrorless copies the workload with the mirror program: reconcile
// once (not timed; it creates the remote topics, as the schedule would
// have long before), then mirror invocations back to back with default
// settings until every record is copied and no lag is left, then one more
// invocation with nothing to copy (the fixed cost at this partition count).
func runMirrorless(ctx context.Context, o *options, admB *kadm.Client, w *workload) (*result, error) {
	r := &result{Workload: w.Name, Method: "mirrorless", Records: w.total(), Bytes: w.payloadBytes()}
	props := mirrorProps(o, "ML", w.topicRegex())
	logPath := filepath.Join(o.work, "mirrorless-"+w.Name+".log")
	targets := remoteNames("ML", w)
	rec, err := invoke(ctx, o.reconcileBin, props, logPath)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	if err := waitLeaders(ctx, admB, targets, w.Partitions, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("remote topics after reconcile: %w", err)
	}
	logf("  reconcile created %d remote topics in %s", len(targets), secs(rec.Wall))

	t0 := time.Now()
	cpu0 := o.brokers.sample()
	first, stop := firstRecord(ctx, admB, targets, 50*time.Millisecond, nil)
	defer stop()
	var copied int64
	var aside time.Duration // spent between invocations on the bench's own look at B, not timed
	for {
		inv, err := invokeTracked(ctx, o.mirrorBin, props, logPath, []string{o.a, o.b})
		r.Invocations++
		r.CPU += inv.Use.CPU
		r.MaxRSS = max(r.MaxRSS, inv.Use.MaxRSS)
		r.InvWalls = append(r.InvWalls, inv.Wall)
		for a, n := range inv.Conns {
			if r.MaxConns == nil {
				r.MaxConns = map[string]int{}
			}
			r.MaxConns[a] = max(r.MaxConns[a], n)
		}
		if err != nil {
			return nil, err
		}
		if r.Invocations == 1 {
			t := time.Now()
			r.First = &firstInvocation{Wall: inv.Wall, CPU: inv.Use.CPU, MaxRSS: inv.Use.MaxRSS, Units: inv.Sum.UnitsClaimed,
				Records: inv.Sum.Records, LagLeft: inv.Sum.LagLeft, Conns: inv.Conns, Partitions: len(targets) * int(w.Partitions)}
			if r.First.PartitionsWritten, err = partitionsWritten(ctx, admB, targets); err != nil {
				return nil, err
			}
			aside += time.Since(t)
		}
		for _, f := range inv.Sum.Flows {
			if len(f.Errors) > 0 {
				return nil, fmt.Errorf("mirror invocation %d: %s", r.Invocations, strings.Join(f.Errors, "; "))
			}
		}
		copied += inv.Sum.Records
		if copied >= w.total() && inv.Sum.LagLeft == 0 {
			break
		}
		if r.Invocations >= o.maxInvocations {
			return nil, fmt.Errorf("%d records copied after %d invocations, want %d (lag_left %d)", copied, r.Invocations, w.total(), inv.Sum.LagLeft)
		}
	}
	r.Wall = time.Since(t0) - aside
	r.Brokers = o.brokers.since(cpu0)
	stop()
	if f := first(); !f.IsZero() {
		r.Startup = f.Sub(t0)
	}
	if copied != w.total() {
		r.Notes = append(r.Notes, fmt.Sprintf("invocations reported %d records copied, want %d", copied, w.total()))
	}
	idle, err := invoke(ctx, o.mirrorBin, props, logPath)
	if err != nil {
		return nil, fmt.Errorf("idle invocation: %w", err)
	}
	if idle.Sum.Records != 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the invocation after completion copied %d records", idle.Sum.Records))
	}
	r.IdleWall, r.IdleCPU = idle.Wall, idle.Use.CPU
	if g, err := measureSyncs(ctx, o, admB, w); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("offset syncs not measured: %v", err))
	} else {
		r.Syncs = g
		r.Notes = append(r.Notes, fmt.Sprintf("the offset-syncs topic grew by %d syncs, %.1f per partition (%.0f per 1M records copied; %d B of key, value and headers, %.4f B per record copied)",
			g.Syncs, float64(g.Syncs)/float64(max(g.Partitions, 1)), g.perMillion(r.Records), g.Bytes, float64(g.Bytes)/float64(max(r.Records, 1))))
	}
	return r, nil
}

// firstInvocation is the first mirror invocation of a copy: what one
// invocation at default settings does with the whole backlog waiting.
type firstInvocation struct {
	Wall, CPU         time.Duration
	MaxRSS            int64
	Units             int   // units_claimed of its summary
	Records, LagLeft  int64 // records copied and lag left, from its summary
	Partitions        int   // the workload's partitions
	PartitionsWritten int   // target partitions holding records after it (end offset above 0)
	Conns             map[string]int
}

// partitionsWritten counts the partitions of topics whose end offset is
// above 0.
func partitionsWritten(ctx context.Context, adm *kadm.Client, topics []string) (int, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("list end offsets on B: %w", err)
	}
	n := 0
	var bad error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			bad = fmt.Errorf("end offset of %s/%d on B: %w", o.Topic, o.Partition, o.Err)
		} else if o.Offset > 0 {
			n++
		}
	})
	return n, bad
}

// idleStats are repeated invocations with nothing to copy.
type idleStats struct {
	Partitions int
	Runs       []invocation
}

// measureIdle runs the mirror `runs` times over the first topics of a
// workload already copied by runMirrorless, chosen so they hold
// `partitions` partitions: nothing to copy, so this is the fixed cost of an
// invocation at that size (planning: listings, offsets, progress).
func measureIdle(ctx context.Context, o *options, w *workload, partitions, runs int) (*idleStats, error) {
	n := min(len(w.Topics), max(1, partitions/int(w.Partitions)))
	props := mirrorProps(o, "ML", strings.Join(w.Topics[:n], ","))
	st := &idleStats{Partitions: n * int(w.Partitions)}
	for range runs {
		inv, err := invokeTracked(ctx, o.mirrorBin, props, filepath.Join(o.work, "idle.log"), []string{o.a, o.b})
		if err != nil {
			return nil, err
		}
		if inv.Sum.Records != 0 {
			return nil, fmt.Errorf("idle invocation copied %d records", inv.Sum.Records)
		}
		st.Runs = append(st.Runs, inv)
	}
	return st, nil
}

// median is the middle value of xs (the upper of the two middle ones for
// an even count), 0 for none.
func median[T cmp.Ordered](xs []T) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// buildFunction compiles ./functions/<name> of the mirrorless module.
func buildFunction(ctx context.Context, work, name string) (string, error) {
	bin := filepath.Join(work, name)
	return bin, kafkatest.Build(ctx, bin, "functions/"+name, false)
}
