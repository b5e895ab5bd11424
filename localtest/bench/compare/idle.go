package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// setupMaxUnits is MIRROR_MAX_UNITS of the untimed copy before the idle
// runs of idle10k: at the default (64) copying 10,000 partitions takes
// 157 invocations; the idle runs themselves use the defaults.
const setupMaxUnits = 1000

// measureIdleBig is the idle10k workload: it generates w on A, creates the
// remote topics with reconcile, copies everything (untimed, MIRROR_MAX_UNITS
// = setupMaxUnits) and verifies the copy, then runs -idle-runs mirror
// invocations at default settings with nothing to copy, counting the
// connections each opens per broker. Its topics are deleted afterwards
// unless -keep.
func measureIdleBig(ctx context.Context, o *options, admA, admB *kadm.Client, w *workload) (*idleStats, error) {
	if _, err := generate(ctx, o, admA, w); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	targets := remoteNames("ML", w)
	if !o.keep {
		defer func() {
			_ = deleteTopics(context.WithoutCancel(ctx), admA, "A", w.Topics)
			_ = deleteTopics(context.WithoutCancel(ctx), admB, "B", targets)
		}()
	}
	props := mirrorProps(o, "ML", w.topicRegex())
	logPath := filepath.Join(o.work, "mirrorless-"+w.Name+".log")
	if _, err := invoke(ctx, o.reconcileBin, props, logPath); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	if err := waitLeaders(ctx, admB, targets, w.Partitions, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("remote topics after reconcile: %w", err)
	}
	var copied int64
	t0 := time.Now()
	for i := 1; ; i++ {
		inv, err := invoke(ctx, o.mirrorBin, props, logPath, fmt.Sprintf("MIRROR_MAX_UNITS=%d", setupMaxUnits))
		if err != nil {
			return nil, fmt.Errorf("setup copy: %w", err)
		}
		copied += inv.Sum.Records
		if copied >= w.total() && inv.Sum.LagLeft == 0 {
			break
		}
		if i >= o.maxInvocations {
			return nil, fmt.Errorf("setup copy: %d records copied after %d invocations, want %d", copied, i, w.total())
		}
	}
	logf("  copied %d records untimed in %s", copied, secs(time.Since(t0)))
	if v, err := verify(ctx, o, admB, w, targets); err != nil || !v.ok(false) {
		return nil, fmt.Errorf("verify the setup copy: %v %v", v, err)
	}
	st := &idleStats{Partitions: len(w.Topics) * int(w.Partitions)}
	for range o.idleRuns {
		inv, err := invokeTracked(ctx, o.mirrorBin, props, filepath.Join(o.work, "idle10k.log"), []string{o.a, o.b})
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

// connsCell is connections per broker address: "A 2, B 3".
func connsCell(o *options, c map[string]int) string {
	if c == nil {
		return "—"
	}
	var parts []string
	for _, x := range []struct{ name, addr string }{{"A", o.a}, {"B", o.b}} {
		parts = append(parts, fmt.Sprintf("%s %d", x.name, c[x.addr]))
	}
	return strings.Join(parts, ", ")
}
