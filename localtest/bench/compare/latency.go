package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// latencyStats is one run of the lat workload: end-to-end latency of a
// steady trickle copied by scheduled mirror invocations, in batch or tail
// mode.
type latencyStats struct {
	Mode        string // "batch" or "tail"
	Env         []string
	Partitions  int
	MBps        float64 // produce rate asked for
	Duration    time.Duration
	Schedule    time.Duration
	Produced    int64
	Seen        int64 // distinct records read on B
	Dups        int64
	Invocations int
	InvWalls    time.Duration // summed wall of the invocations (what Lambda bills)
	CPU         time.Duration // summed user+sys of the invocations
	P50, P99    time.Duration
	Max         time.Duration
}

// gbSecondsPerGiB is the Lambda cost model of the run: memory in GB times
// the invocations' summed wall, per GiB produced (and copied).
func (st *latencyStats) gbSecondsPerGiB(memMB int) float64 {
	gib := float64(st.Produced*int64(recordBytes(latencyRecord))) / (1 << 30)
	if gib == 0 {
		return 0
	}
	return float64(memMB) / 1024 * st.InvWalls.Seconds() / gib
}

// latencyRecord is the value size of the lat workload's records.
const latencyRecord = 1024

// latencyMargin is MIRROR_SAFETY_MARGIN of a tail-mode run (the default).
const latencyMargin = 5 * time.Second

// latencyEnv is the mirror's environment in a mode of the lat workload:
// none in batch mode (the defaults); in tail mode MIRROR_TAIL=true, which
// keeps an invocation that has caught up copying until its budget ends,
// less the margin. The budget is -latency-tail-budget, by default the
// schedule interval plus the margin: each invocation copies for one
// interval and the next starts when it ends, no gap between them. A budget
// of the interval itself is a deployment whose timeout is its interval
// (docs/operations.md): records arriving in the last margin of each
// interval wait for the next invocation.
func latencyEnv(mode string, o *options) []string {
	if mode != "tail" {
		return nil
	}
	budget := o.latencyTailBudget
	if budget <= 0 {
		budget = o.latencySchedule + latencyMargin
	}
	return []string{"MIRROR_TAIL=true",
		"MIRROR_TIME_BUDGET=" + budget.String(),
		"MIRROR_SAFETY_MARGIN=" + latencyMargin.String()}
}

// measureLatency produces 1 KiB records at o.latencyMBps over 100
// partitions of one topic on A for the run's duration, each stamped with
// the time it was handed to the producer, while the mirror runs on a fixed
// schedule (the next invocation starts -latency-schedule after the previous
// one started, or at once if that one ran longer), in batch mode (default
// settings: an invocation exits once caught up) or tail mode (latencyEnv).
// A read_committed consumer on B takes each record's latency as the time it
// read it minus that timestamp (the mirror keeps timestamps): source append
// to committed on the target, plus the consumer's fetch wait (at most 50 ms).
// It ends when every record produced has been read once. Each mode has a
// topic of its own (bench-lat, bench-lat-tail).
func measureLatency(ctx context.Context, o *options, admA, admB *kadm.Client, mode string) (*latencyStats, error) {
	const parts, size = 100, latencyRecord
	topic := "bench-lat"
	if mode != "batch" {
		topic += "-" + mode
	}
	target := "ML." + topic
	st := &latencyStats{Mode: mode, Env: latencyEnv(mode, o), Partitions: parts, MBps: o.latencyMBps, Schedule: o.latencySchedule,
		Duration: max(2*time.Second, time.Duration(float64(o.latencyDuration)*o.scale))}
	if err := recreateTopics(ctx, admA, "A", []string{topic}, parts); err != nil {
		return nil, err
	}
	if !o.keep {
		defer func() {
			_ = deleteTopics(context.WithoutCancel(ctx), admA, "A", []string{topic})
			_ = deleteTopics(context.WithoutCancel(ctx), admB, "B", []string{target})
		}()
	}
	props := mirrorProps(o, "ML", topic)
	logPath := filepath.Join(o.work, "mirrorless-lat-"+mode+".log")
	if _, err := invoke(ctx, o.reconcileBin, props, logPath); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	if err := waitLeaders(ctx, admB, []string{target}, parts, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("remote topic after reconcile: %w", err)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.ConsumeTopics(target), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	var mu sync.Mutex
	var lats []time.Duration
	seen := map[[2]int64]bool{}
	cctx, cstop := context.WithCancel(ctx)
	defer cstop()
	go func() {
		for cctx.Err() == nil {
			fs := cons.PollFetches(cctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				k := [2]int64{int64(r.Partition), seqOf(r)}
				if seen[k] {
					st.Dups++
					return
				}
				seen[k] = true
				lats = append(lats, now.Sub(r.Timestamp))
			})
			mu.Unlock()
		}
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(o.a), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	w := &workload{Name: "lat", Partitions: parts, Size: size, Seed: 6}
	perSec := o.latencyMBps * 1e6 / float64(recordBytes(size))
	produced := make(chan error, 1)
	go func() {
		var seqs [parts]int64
		t0 := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var n int64
		for now := range tick.C {
			if ctx.Err() != nil || now.Sub(t0) >= st.Duration {
				break
			}
			for ; float64(n) < perSec*now.Sub(t0).Seconds(); n++ {
				p := int32(n % parts)
				r := &kgo.Record{Topic: topic, Partition: p}
				w.record(0, p, seqs[p], r)
				seqs[p]++
				r.Timestamp = time.Now()
				prod.Produce(ctx, r, nil)
			}
		}
		err := prod.Flush(ctx)
		st.Produced = n
		produced <- err
	}()

	var prodDone bool
	next := time.Now()
	for {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return nil, err
		}
		start := time.Now()
		inv, err := invoke(ctx, o.mirrorBin, props, logPath, st.Env...)
		if err != nil {
			return nil, err
		}
		st.Invocations++
		st.InvWalls += inv.Wall
		st.CPU += inv.Use.CPU
		if next = start.Add(st.Schedule); next.Before(time.Now()) {
			next = time.Now()
		}
		if !prodDone {
			select {
			case err := <-produced:
				if err != nil {
					return nil, fmt.Errorf("produce on A: %w", err)
				}
				prodDone = true
			default:
			}
		}
		if prodDone {
			// Everything produced is committed on B unless it arrived after
			// the invocation planned; give the consumer a moment to read.
			for range 40 {
				mu.Lock()
				got := int64(len(lats))
				mu.Unlock()
				if got >= st.Produced {
					break
				}
				if err := sleep(ctx, 50*time.Millisecond); err != nil {
					return nil, err
				}
			}
			mu.Lock()
			got := int64(len(lats))
			mu.Unlock()
			if got >= st.Produced {
				break
			}
		}
		if st.Invocations >= o.maxInvocations {
			return nil, fmt.Errorf("%d invocations and not every record read on B", st.Invocations)
		}
	}
	cstop()
	mu.Lock()
	defer mu.Unlock()
	st.Seen = int64(len(lats))
	if st.Seen != st.Produced || st.Dups > 0 {
		return st, fmt.Errorf("read %d distinct records on B (%d duplicates), produced %d", st.Seen, st.Dups, st.Produced)
	}
	slices.Sort(lats)
	st.P50, st.P99, st.Max = lats[len(lats)/2], lats[min(len(lats)-1, len(lats)*99/100)], lats[len(lats)-1]
	return st, nil
}
