// Command compare benchmarks mirrorless against a raw consume->produce
// pipe and MirrorMaker 2 on a real Kafka pair (issue 6), and writes a
// markdown table and a chart. Run it through scripts/bench.sh (`make
// bench`), which starts the pair and resolves MM2's jars.
//
// For each workload (W1: 12 partitions, 1,000,000 records of 1 KiB; W2:
// the same with 100 B values; W3: 1,000 topics x 2 partitions x 200
// records of 1 KiB; all scaled by -scale) it produces the records on A
// with lz4 batches, then copies them to B into fresh topics with each
// method in turn:
//
//   - pipe: `compare pipe`, a franz-go consumer handing records to a
//     franz-go producer (no transactions, acks=all), as its own process;
//   - mirrorless: ./functions/reconcile once, then ./functions/mirror back
//     to back at default settings until everything is copied;
//   - mm2, mm2-eos: MirrorMaker 2 in dedicated mode (tasks.max=2) from its
//     Maven Central jars, at its defaults (at-least-once) and with
//     exactly-once, until every target partition holds its last record.
//
// Every copy is then read back in full and each record compared with the
// one generated (key, value, headers, timestamp; counts, duplicates and
// order per partition). CPU (user+sys) and peak RSS are the copying
// processes' own. T1 (issue 17: 1,000 topics x 2 partitions x 10
// records) is copied like the others, and its first mirror invocation is
// reported on its own (partitions written, CPU, RSS, connections opened per
// broker). It also measures idle mirror invocations over 1,000 partitions
// of W3 and over 10,000 (workload idle10k), end-to-end latency of a steady
// trickle in batch and tail mode (workload lat), and cold starts to the
// first record produced (a new process, and through the AWS Lambda Runtime
// Interface Emulator when -rie is set).
//
// W1 and W2 are copied in rounds (-repeat); each round's topics are deleted
// once it is verified, and the next waits until the brokers let go of them,
// so that rounds compare. When the brokers run on this machine, each copy
// also reports the CPU their JVMs spent during it.
//
// Nothing here asserts on time: a copy that is incomplete or wrong is an
// error, a slow one is a figure.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/names"
)

type options struct {
	a, b                             string
	scale                            float64
	workloads                        string
	methods                          string
	work                             string
	out                              string
	chart                            string
	results                          string
	java                             string
	mm2Lib                           string
	mm2Heap                          string
	mm2Timeout                       time.Duration
	rie                              string
	idlePartitions                   int
	idleBig                          int
	latencyMBps                      float64
	latencyDuration, latencySchedule time.Duration
	latencyTailBudget                time.Duration
	lambdaMB                         int
	idleRuns                         int
	coldRuns                         int
	maxInvocations                   int
	warmRecords                      int
	repeat                           int
	settle                           time.Duration
	keep                             bool
	loadNote                         string

	mirrorBin, reconcileBin string
	brokers                 *brokers // the brokers' processes and disks, when on this machine
}

// result is one copy of one workload by one method.
type result struct {
	Workload    string
	Method      string
	Records     int64
	Bytes       int64         // key + value + header bytes copied
	Wall        time.Duration // start of the copier -> copy complete on B
	Startup     time.Duration // start of the copier -> first record on B
	StartupCPU  time.Duration // MM2: CPU spent until the first record
	CPU         time.Duration // user+sys of the copying process(es)
	MaxRSS      int64
	Invocations int             // mirrorless
	InvWalls    []time.Duration // mirrorless: wall of each invocation
	IdleWall    time.Duration   // mirrorless: an invocation with nothing to copy, at this size
	IdleCPU     time.Duration
	Verdict     verdict
	VerifyOK    bool
	Err         string
	Notes       []string
	Round       int              // 1-based round of a repeated workload
	Syncs       syncGrowth       // mirrorless: what the copy added to the offset-syncs topic
	First       *firstInvocation // mirrorless: the first invocation on its own
	MaxConns    map[string]int   // pipe, mirrorless: most TCP connections one process (invocation) opened, per broker address
	Brokers     *brokerCPU       // CPU of the broker JVMs during the copy (nil: not on this machine)
}

// brokerPerGiB is the CPU-seconds per GiB copied that broker A (source)
// or B (target) spent during the copy, and whether it was measured.
func (r *result) brokerPerGiB(target bool) (float64, bool) {
	if r.Brokers == nil || r.Bytes == 0 {
		return 0, false
	}
	d := r.Brokers.A
	if target {
		d = r.Brokers.B
	}
	if d < 0 {
		return 0, false
	}
	return d.Seconds() / (float64(r.Bytes) / (1 << 30)), true
}

// gbSecondsPerGiB is the Lambda cost model of a mirrorless copy: the
// function's memory in GB (MB/1024, as Lambda bills) times the summed wall
// of its invocations, per GiB copied; 0 for other methods.
func (r *result) gbSecondsPerGiB(memMB int) float64 {
	if r.Method != "mirrorless" || r.Bytes == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.InvWalls {
		sum += d
	}
	return float64(memMB) / 1024 * sum.Seconds() / (float64(r.Bytes) / (1 << 30))
}

func (r *result) mbps() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Wall.Seconds()
}

func (r *result) copyMBps() float64 {
	d := r.Wall - r.Startup
	if d <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / d.Seconds()
}

func (r *result) cpuPerGiB() float64 {
	if r.Bytes == 0 {
		return 0
	}
	return r.CPU.Seconds() / (float64(r.Bytes) / (1 << 30))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pipe" {
		if err := runPipe(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "pipe:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "chart" {
		// compare chart results.json out.png: redraw a chart from saved results.
		b, err := os.ReadFile(os.Args[2])
		var rs []*result
		if err == nil {
			err = json.Unmarshal(b, &rs)
		}
		if err == nil {
			err = chart(rs, os.Args[3])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "chart:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	scale, err := strconv.ParseFloat(envOr("BENCH_SCALE", "1"), 64)
	if err != nil || scale <= 0 {
		fmt.Fprintf(os.Stderr, "compare: BENCH_SCALE=%q is not a positive number\n", os.Getenv("BENCH_SCALE"))
		os.Exit(2)
	}
	work := envOr("BENCH_WORK", filepath.Join(os.TempDir(), "mirrorless-bench"))
	flag.StringVar(&o.a, "a", os.Getenv("MIRROR_TEST_A"), "cluster A bootstrap server (default $MIRROR_TEST_A)")
	flag.StringVar(&o.b, "b", os.Getenv("MIRROR_TEST_B"), "cluster B bootstrap server (default $MIRROR_TEST_B)")
	flag.Float64Var(&o.scale, "scale", scale, "size factor: record counts of W1/W2, topic count of W3 (default $BENCH_SCALE or 1)")
	flag.StringVar(&o.workloads, "workloads", "w1,w2,w3,t1,idle10k,lat", "comma-separated workloads: w1, w2, w3, t1 (1,000 topics x 2 partitions x 10 records), idle10k (idle invocations over 10,000 partitions; mirrorless only), lat (end-to-end latency at a steady 1 MB/s over 100 partitions, mirror on a schedule; mirrorless only)")
	flag.StringVar(&o.methods, "methods", "pipe,mirrorless,mm2,mm2-eos", "comma-separated copy methods")
	flag.StringVar(&o.work, "work", work, "work dir: properties, logs, binaries (default $BENCH_WORK)")
	flag.StringVar(&o.out, "out", envOr("BENCH_OUT", ""), "markdown results file (default <work>/results.md)")
	flag.StringVar(&o.chart, "chart", envOr("BENCH_CHART", ""), "chart PNG (default <work>/bench.png)")
	flag.StringVar(&o.results, "json", "", "results as JSON (default <work>/results.json)")
	flag.StringVar(&o.java, "java", "java", "java command for MirrorMaker 2")
	flag.StringVar(&o.mm2Lib, "mm2-lib", os.Getenv("MM2_LIB"), "directory of MirrorMaker 2's jars (default $MM2_LIB)")
	flag.StringVar(&o.mm2Heap, "mm2-heap", "-Xms256M -Xmx2G", "MirrorMaker 2 JVM heap flags (connect-mirror-maker.sh's defaults)")
	flag.DurationVar(&o.mm2Timeout, "mm2-timeout", 20*time.Minute, "give up on an MM2 copy after this")
	flag.StringVar(&o.rie, "rie", os.Getenv("BENCH_RIE"), "aws-lambda-rie binary for the cold start through the emulator (default $BENCH_RIE; empty: process start only)")
	flag.IntVar(&o.idlePartitions, "idle-partitions", 1000, "partitions of the idle-invocation measurement (taken from W3)")
	flag.IntVar(&o.idleBig, "idle10k-partitions", 10000, "partitions of workload idle10k (times -scale; topics of 10 partitions, 1 record each, copied untimed first)")
	flag.Float64Var(&o.latencyMBps, "latency-rate", 1, "MB/s produced on A by workload lat (1 KiB records over 100 partitions)")
	flag.DurationVar(&o.latencyDuration, "latency-duration", time.Minute, "how long workload lat produces (times -scale, at least 2 s)")
	flag.DurationVar(&o.latencySchedule, "latency-schedule", 10*time.Second, "workload lat: a mirror invocation starts this long after the previous one started (batch mode on a schedule)")
	flag.DurationVar(&o.latencyTailBudget, "latency-tail-budget", 0, "workload lat, tail mode: MIRROR_TIME_BUDGET of the invocations (0: the schedule interval plus the 5 s safety margin, so they copy back to back; the interval itself models a deployment whose timeout is its interval, with a 5 s gap each interval)")
	flag.IntVar(&o.lambdaMB, "lambda-memory", 1024, "MB of Lambda memory for the GB-seconds per GiB of mirrorless (template.yaml's MirrorMemory default)")
	flag.IntVar(&o.idleRuns, "idle-runs", 5, "idle invocations to measure")
	flag.IntVar(&o.coldRuns, "cold-runs", 3, "cold starts to measure per mode (0: none)")
	flag.IntVar(&o.repeat, "repeat", 3, "copies of W1 and W2 by the pipe and mirrorless, each round from a fresh source topic into fresh target topics (both deleted once the round is verified), alternating which goes first; the tables show each method's median round and list every round (MM2 copies once)")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "after deleting a round's topics, wait until the brokers have removed their files when the brokers' disks are on this machine and their log.segment.delete.delay.ms is at most this (bench.sh's pair sets it to 0); otherwise only until they are gone from the metadata")
	flag.IntVar(&o.warmRecords, "warm-records", 600000, "records (1 KiB, 12 partitions) the pipe and mirrorless each copy, untimed, before the workloads, so the brokers' JIT is warm (0: none)")
	flag.IntVar(&o.maxInvocations, "max-invocations", 500, "give up on a mirrorless copy after this many invocations")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench topics at the end")
	flag.StringVar(&o.loadNote, "load", os.Getenv("BENCH_LOAD"), "what else ran on the machine, for the report")
	flag.Parse()
	if o.a == "" || o.b == "" {
		fmt.Fprintln(os.Stderr, "compare: -a and -b (or MIRROR_TEST_A and MIRROR_TEST_B) are required; scripts/bench.sh starts a pair")
		os.Exit(2)
	}
	if o.latencyTailBudget != 0 && o.latencyTailBudget <= latencyMargin {
		fmt.Fprintf(os.Stderr, "compare: -latency-tail-budget %s must be 0 or more than the %s safety margin\n", o.latencyTailBudget, latencyMargin)
		os.Exit(2)
	}
	if o.out == "" {
		o.out = filepath.Join(o.work, "results.md")
	}
	if o.chart == "" {
		o.chart = filepath.Join(o.work, "bench.png")
	}
	if o.results == "" {
		o.results = filepath.Join(o.work, "results.json")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &o); err != nil {
		logf("error: %v", err)
		os.Exit(1)
	}
}

func set(list string) (map[string]bool, []string) {
	m := map[string]bool{}
	var order []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" && !m[s] {
			m[s] = true
			order = append(order, s)
		}
	}
	return m, order
}

func run(ctx context.Context, o *options) error {
	wset, _ := set(o.workloads)
	_, methods := set(o.methods)
	for w := range wset {
		switch w {
		case "w1", "w2", "w3", "t1", "idle10k", "lat":
		default:
			return fmt.Errorf("-workloads: unknown workload %q (w1, w2, w3, t1, idle10k, lat)", w)
		}
	}
	for _, m := range methods {
		switch m {
		case "pipe", "mirrorless":
		case "mm2", "mm2-eos":
			if o.mm2Lib == "" {
				return fmt.Errorf("-methods %s needs -mm2-lib (MirrorMaker 2's jars; scripts/bench.sh resolves them)", m)
			}
		default:
			return fmt.Errorf("-methods: unknown method %q (pipe, mirrorless, mm2, mm2-eos)", m)
		}
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf("building ./functions/mirror and ./functions/reconcile into %s", o.work)
	if o.mirrorBin, err = buildFunction(ctx, o.work, "mirror"); err != nil {
		return err
	}
	if o.reconcileBin, err = buildFunction(ctx, o.work, "reconcile"); err != nil {
		return err
	}
	clA, err := kgo.NewClient(kgo.SeedBrokers(o.a))
	if err != nil {
		return err
	}
	defer clA.Close()
	clB, err := kgo.NewClient(kgo.SeedBrokers(o.b))
	if err != nil {
		return err
	}
	defer clB.Close()
	admA, admB := kadm.NewClient(clA), kadm.NewClient(clB)
	if err := deletePrefixed(ctx, admA, "A", "bench-"); err != nil {
		return err
	}
	if err := deletePrefixed(ctx, admB, "B", "pipe.", "ML.", "MMA.", "MME.", "CS.", "mm2-"); err != nil {
		return err
	}
	_, _ = admB.DeleteGroups(ctx, names.ProgressGroup("ML->B"), names.LeaseGroup("ML->B"), names.ProgressGroup("CS->B"), names.LeaseGroup("CS->B"), "MMA-mm2", "MME-mm2")
	o.brokers = findBrokers(ctx, o, admA, admB)
	for i, n := range []string{"A", "B"} {
		if o.brokers.pid[i] != 0 {
			logf("broker %s: pid %d (%s); log directories on this machine: %v, files deleted %s after a topic", n, o.brokers.pid[i], o.brokers.how[i], o.brokers.dirs[i], o.brokers.delay[i])
		} else {
			logf("broker %s: its CPU is not measured: %s", n, o.brokers.how[i])
		}
	}
	rep := &report{opts: o, loadBefore: loadavg()}
	// drop deletes topics and waits until the broker let go of them (see
	// dropTopics); what it could not wait for goes into the report.
	drop := func(cluster int, topics []string) error {
		note, err := dropTopics(ctx, o, []*kadm.Client{admA, admB}[cluster], cluster, topics)
		if note != "" {
			logf("  %s", note)
			rep.settleNotes = append(rep.settleNotes, note)
		}
		return err
	}

	took, err := warmUp(ctx, o, admB)
	if err != nil {
		return err
	}
	logf("B warmed up (__transaction_state and __consumer_offsets ready) in %s", secs(took))

	// A fresh broker has not compiled its hot paths yet: on a fresh pair
	// the first exactly-once copy ran at half the speed it reached once
	// the brokers had served a few copies, where the pipe barely changed
	// (docs/benchmarks.md). Clusters being mirrored in production are
	// warm, so before the timed workloads each of the pipe and mirrorless
	// copies a warm-up topic once, untimed (MM2's copies use the same
	// broker paths).
	if o.warmRecords > 0 && (hasMethod(methods, "pipe") || hasMethod(methods, "mirrorless")) {
		t0 := time.Now()
		ww := warmUpWorkload(int64(o.warmRecords))
		if _, err := generate(ctx, o, admA, ww); err != nil {
			return fmt.Errorf("generate the warm-up topic: %w", err)
		}
		if hasMethod(methods, "pipe") {
			if _, err := runPipeChild(ctx, o, self, admB, ww); err != nil {
				return fmt.Errorf("warm-up copy with the pipe: %w", err)
			}
		}
		if hasMethod(methods, "mirrorless") {
			if _, err := runMirrorless(ctx, o, admB, ww); err != nil {
				return fmt.Errorf("warm-up copy with mirrorless: %w", err)
			}
		}
		// Dropped at once, so the first round does not copy onto a broker
		// holding the warm-up's gigabyte.
		if err := dropRound(drop, ww, methods); err != nil {
			return fmt.Errorf("delete the warm-up topics: %w", err)
		}
		logf("brokers warmed up by untimed copies of %d records in %s", ww.total(), secs(time.Since(t0)))
	}

	rep.started = time.Now()
	for _, w := range workloads(o.scale, wset) {
		logf("%s", w)
		took, err := generate(ctx, o, admA, w)
		if err != nil {
			return fmt.Errorf("generate %s: %w", w.Name, err)
		}
		rep.gen = append(rep.gen, genStat{w: w, took: took})
		logf("  produced on A in %s (%.0f MB/s)", secs(took), float64(w.payloadBytes())/1e6/took.Seconds())
		var all []*result
		rounds := 1
		if len(w.Topics) == 1 {
			rounds = max(1, o.repeat)
		}
		for round := 1; round <= rounds; round++ {
			wr := w
			order := methods
			if round > 1 {
				wr = w.again(round)
				if _, err := generate(ctx, o, admA, wr); err != nil {
					return fmt.Errorf("generate %s round %d: %w", w.Name, round, err)
				}
				order = nil
				for _, m := range methods {
					if m == "pipe" || m == "mirrorless" {
						order = append(order, m)
					}
				}
				if round%2 == 0 {
					slices.Reverse(order)
				}
			}
			for _, m := range order {
				r, err := copyWith(ctx, o, self, admB, wr, m)
				if err != nil {
					return err
				}
				r.Round = round
				all = append(all, r)
			}
			// Each round's copies are verified by now: its topics go, so
			// that every round (and the next workload) copies onto a
			// broker holding the same, not one more round's gigabyte.
			if len(w.Topics) == 1 && !o.keep {
				if err := dropRound(drop, wr, order); err != nil {
					return fmt.Errorf("delete %s round %d's topics: %w", w.Name, round, err)
				}
			}
		}
		for _, m := range methods {
			if r := medianRound(all, m); r != nil {
				rep.results = append(rep.results, r)
			}
		}
		if rounds > 1 {
			rep.rounds = append(rep.rounds, all...)
		}
		if w.Name == "w3" && wset["w3"] && hasMethod(methods, "mirrorless") && o.idleRuns > 0 {
			st, err := measureIdle(ctx, o, w, o.idlePartitions, o.idleRuns)
			if err != nil {
				logf("  idle: FAILED: %v", err)
				rep.idleErr = err.Error()
			} else {
				rep.idle = st
				logf("  idle over %d partitions: median wall %s", st.Partitions, secs(median(walls(st.Runs))))
			}
		}
		if !o.keep && len(w.Topics) > 1 {
			// Many-topic workloads are dropped once measured, so that the
			// next does not find a broker holding them all (open files:
			// one per partition).
			if err := dropRound(drop, w, methods); err != nil {
				return fmt.Errorf("delete %s's topics: %w", w.Name, err)
			}
		}
	}
	if wset["idle10k"] && hasMethod(methods, "mirrorless") && o.idleRuns > 0 {
		w := idleWorkload(o.idleBig, o.scale)
		logf("%s", w)
		st, err := measureIdleBig(ctx, o, admA, admB, w)
		if err != nil {
			logf("  idle10k: FAILED: %v", err)
			rep.idleBigErr = err.Error()
		} else {
			rep.idleBig = st
			logf("  idle over %d partitions: median wall %s", st.Partitions, secs(median(walls(st.Runs))))
		}
	}
	if wset["lat"] && hasMethod(methods, "mirrorless") {
		for _, mode := range []string{"batch", "tail"} {
			logf("lat (%s mode): %.1f MB/s over 100 partitions, mirror every %s %s", mode, o.latencyMBps, o.latencySchedule, strings.Join(latencyEnv(mode, o), " "))
			st, err := measureLatency(ctx, o, admA, admB, mode)
			if err != nil {
				logf("  lat (%s mode): FAILED: %v", mode, err)
				rep.latErrs = append(rep.latErrs, mode+" mode: "+err.Error())
				continue
			}
			rep.lat = append(rep.lat, st)
			logf("  latency p50 %s, p99 %s over %d records, %d invocations (%s summed wall)", ms(st.P50), ms(st.P99), st.Seen, st.Invocations, secs(st.InvWalls))
		}
	}
	if o.coldRuns > 0 {
		cs, err := measureCold(ctx, o, admA, admB, o.coldRuns)
		if err != nil {
			logf("cold start: FAILED: %v", err)
			rep.coldErr = err.Error()
		}
		rep.cold = cs
	}
	rep.loadAfter = loadavg()
	if !o.keep {
		_ = deletePrefixed(ctx, admA, "A", "bench-")
		_ = deletePrefixed(ctx, admB, "B", "pipe.", "ML.", "MMA.", "MME.", "CS.")
	}
	md := rep.markdown()
	fmt.Print(md)
	if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
		return err
	}
	if b, err := json.MarshalIndent(rep.results, "", "  "); err == nil {
		_ = os.WriteFile(o.results, b, 0o644)
	}
	if len(rep.results) > 0 { // none when only idle10k or lat ran
		if err := chart(rep.results, o.chart); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
	}
	logf("wrote %s, %s and %s", o.out, o.chart, o.results)
	var failed []string
	for _, r := range rep.results {
		if r.Err != "" {
			failed = append(failed, r.Workload+"/"+r.Method)
		}
	}
	if rep.idleErr != "" {
		failed = append(failed, "idle")
	}
	if rep.idleBigErr != "" {
		failed = append(failed, "idle10k")
	}
	if len(rep.latErrs) > 0 {
		failed = append(failed, "lat")
	}
	for _, c := range rep.cold {
		if c.Err != "" {
			failed = append(failed, "cold/"+c.Mode)
			break
		}
	}
	if rep.coldErr != "" {
		failed = append(failed, "cold")
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s (see the table)", strings.Join(failed, ", "))
	}
	return nil
}

// prefixes are the target topic prefixes of the copy methods.
var prefixes = map[string]string{"pipe": "pipe", "mirrorless": "ML", "mm2": "MMA", "mm2-eos": "MME"}

// dropRound deletes a copied workload's source topics on A and the target
// topics of the given methods on B, through drop (0: A, 1: B).
func dropRound(drop func(int, []string) error, w *workload, methods []string) error {
	var targets []string
	for _, m := range methods {
		targets = append(targets, remoteNames(prefixes[m], w)...)
	}
	if err := drop(1, targets); err != nil {
		return err
	}
	return drop(0, w.Topics)
}

func hasMethod(ms []string, m string) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func walls(invs []invocation) []time.Duration {
	out := make([]time.Duration, len(invs))
	for i, v := range invs {
		out[i] = v.Wall
	}
	return out
}

// runPipeChild runs the raw pipe as a child process into fresh
// pipe.<topic> topics (created here, not timed).
func runPipeChild(ctx context.Context, o *options, self string, admB *kadm.Client, w *workload) (*result, error) {
	r := &result{Workload: w.Name, Method: "pipe", Records: w.total(), Bytes: w.payloadBytes()}
	targets := remoteNames("pipe", w)
	if err := recreateTopics(ctx, admB, "B", targets, w.Partitions); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(o.work, "pipe-"+w.Name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, self, "pipe", "-a", o.a, "-b", o.b, "-prefix", "pipe", "-topics", strings.Join(w.Topics, ","))
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	t0 := time.Now()
	cpu0 := o.brokers.sample()
	first, stop := firstRecord(ctx, admB, targets, 50*time.Millisecond, nil)
	defer stop()
	rss, conns, err := runTracked(cmd, []string{o.a, o.b})
	r.Wall = time.Since(t0)
	r.Brokers = o.brokers.since(cpu0)
	stop()
	r.CPU, r.MaxRSS, r.MaxConns = rusage(cmd).CPU, rss, conns
	if f := first(); !f.IsZero() {
		r.Startup = f.Sub(t0)
	}
	if err != nil {
		return nil, fmt.Errorf("pipe: %w (log in %s)", err, logFile.Name())
	}
	var sum pipeSummary
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &sum); err != nil {
		return nil, fmt.Errorf("pipe summary %q: %w", stdout.String(), err)
	}
	if sum.Records != w.total() {
		return nil, errors.New("pipe copied " + strconv.FormatInt(sum.Records, 10) + " records, want " + strconv.FormatInt(w.total(), 10))
	}
	return r, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// copyWith copies w to B with method m and verifies the copy. A failed copy
// is a result with Err set; the error returned is only the context's.
func copyWith(ctx context.Context, o *options, self string, admB *kadm.Client, w *workload, m string) (*result, error) {
	var r *result
	var err error
	var prefix string
	switch m {
	case "pipe":
		prefix = "pipe"
		r, err = runPipeChild(ctx, o, self, admB, w)
	case "mirrorless":
		prefix = "ML"
		r, err = runMirrorless(ctx, o, admB, w)
	case "mm2", "mm2-eos":
		prefix = map[string]string{"mm2": "MMA", "mm2-eos": "MME"}[m]
		if err = mm2Cleanup(ctx, admB, prefix); err == nil {
			r, err = runMM2(ctx, o, admB, w, m == "mm2-eos")
		}
	}
	if err != nil {
		logf("  %s: FAILED: %v", m, err)
		return &result{Workload: w.Name, Method: m, Records: w.total(), Bytes: w.payloadBytes(), Err: err.Error()}, ctx.Err()
	}
	v, err := verify(ctx, o, admB, w, remoteNames(prefix, w))
	r.Verdict = v
	r.VerifyOK = err == nil && v.ok(m == "pipe" || m == "mm2")
	if err != nil {
		r.Err = "verify: " + err.Error()
	} else if !r.VerifyOK {
		r.Err = "verify: " + v.String()
	}
	logf("  %-10s wall %s (first record after %s), %.0f MB/s, %.0f records/s, CPU %s (%.1f s/GiB), peak RSS %s; verify: %s",
		m, secs(r.Wall), secs(r.Startup), r.mbps(), float64(r.Records)/r.Wall.Seconds(), secs(r.CPU), r.cpuPerGiB(), mib(r.MaxRSS), v)
	return r, nil
}

// medianRound is method m's round with the median throughput (the upper
// of the two middle ones for an even count, as median); a failed round is returned
// first, so that a failure is never hidden by the other rounds.
func medianRound(all []*result, m string) *result {
	var ok []*result
	for _, r := range all {
		if r.Method != m {
			continue
		}
		if r.Err != "" {
			return r
		}
		ok = append(ok, r)
	}
	if len(ok) == 0 {
		return nil
	}
	slices.SortStableFunc(ok, func(a, b *result) int { return cmp.Compare(a.mbps(), b.mbps()) })
	return ok[len(ok)/2]
}
