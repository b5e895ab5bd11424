//go:build unix

// Command profile measures the mirror hot path on a real Kafka pair, for
// the performance work (it optimises; localtest/bench's side-by-side
// harness compares with MM2). Scenarios, each on fresh topics:
//
//   - copy: seed -records records of -size bytes (random 16-byte keys, text-like
//     values, two headers, lz4 batches) over -partitions partitions on A, reconcile, then
//     run mirror invocations back to back until no lag is left. With
//     -mode exec (default) each invocation is the built functions/mirror
//     program at its default settings, measured from outside (wall and
//     user+sys CPU from rusage, peak RSS from /proc/<pid>/status VmHWM); with -mode inproc the
//     invocations run in this process, which can write a CPU profile
//     (-cpuprofile) and a heap profile taken near the heap's peak
//     (-heapprofile).
//   - raw: the same seed copied by a raw consume->produce pipe (no
//     transactions, acks=all, same partitions) in a child process: the
//     ceiling for this client stack.
//   - idle: -idle-topics topics x -idle-partitions partitions, one record
//     each, copied once; then -idle-runs mirror invocations with nothing to
//     copy.
//   - cold: one record on a fresh topic; the time from starting the mirror
//     program to the record being produced on B.
//
// Every copy is checked: the target's committed record count per partition
// must equal the source's. Benchmarks are not tests: nothing is asserted on
// time.
//
//	eval "$(KAFKA_PAIR_DIR=/tmp/p KAFKA_A_PORT=19692 KAFKA_B_PORT=29692 scripts/kafka-pair.sh start)"
//	go -C localtest/bench run ./profile -scenarios copy,raw,idle,cold
//	go -C localtest/bench run ./profile -scenarios copy -mode inproc -cpuprofile cpu.out -heapprofile heap.out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	a, b            string
	scenarios       string
	mode            string
	records         int
	size            int
	partitions      int
	idleTopics      int
	idlePartitions  int
	idleRuns        int
	coldRuns        int
	cpuProfile      string
	heapProfile     string
	work            string
	bin             string
	extraEnv        string
	extraProps      string
	keep            bool
	rawChild        string // internal: run the raw pipe "src,dst,partitions"
	maxInvocations  int
	invocationLimit time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.a, "a", os.Getenv("MIRROR_TEST_A"), "bootstrap of cluster A, the source (default $MIRROR_TEST_A)")
	flag.StringVar(&o.b, "b", os.Getenv("MIRROR_TEST_B"), "bootstrap of cluster B, the target (default $MIRROR_TEST_B)")
	flag.StringVar(&o.scenarios, "scenarios", "copy", "comma-separated: copy, raw, idle, cold")
	flag.StringVar(&o.mode, "mode", "exec", "copy scenario: exec (the mirror program, one process per invocation) or inproc")
	flag.IntVar(&o.records, "records", 200000, "records to seed for copy and raw")
	flag.IntVar(&o.size, "size", 1024, "value bytes per record")
	flag.IntVar(&o.partitions, "partitions", 12, "partitions of the seeded topic")
	flag.IntVar(&o.idleTopics, "idle-topics", 500, "idle scenario: topics")
	flag.IntVar(&o.idlePartitions, "idle-partitions", 2, "idle scenario: partitions per topic")
	flag.IntVar(&o.idleRuns, "idle-runs", 5, "idle scenario: invocations with nothing to copy")
	flag.IntVar(&o.coldRuns, "cold-runs", 3, "cold scenario: runs, each on a fresh topic")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "inproc: write a CPU profile of the copy here")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "inproc: write a heap profile taken near the peak here")
	flag.StringVar(&o.work, "work", "", "directory for properties, binary and logs (default: a new temporary one)")
	flag.StringVar(&o.bin, "bin", "", "mirror binary (default: go build ./functions/mirror)")
	flag.StringVar(&o.extraEnv, "env", "", "extra KEY=VALUE,... for the mirror invocations (e.g. MIRROR_BATCH_RECORDS=5000,GOMEMLIMIT=150MiB)")
	flag.StringVar(&o.extraProps, "props", "", "extra lines for the MM2 properties file, separated by ';' (e.g. A.consumer.fetch.max.bytes=2097152)")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench topics afterwards")
	flag.StringVar(&o.rawChild, "raw-child", "", "internal")
	flag.IntVar(&o.maxInvocations, "max-invocations", 200, "give up a copy after this many invocations")
	flag.DurationVar(&o.invocationLimit, "invocation-limit", 3*time.Minute, "kill an invocation that runs longer")
	flag.Parse()
	if o.a == "" || o.b == "" {
		fmt.Fprintln(os.Stderr, "profile: give -a and -b (or MIRROR_TEST_A and MIRROR_TEST_B)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if o.rawChild != "" {
		err = rawChild(ctx, o)
	} else {
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "profile: "+format+"\n", args...)
}

type bench struct {
	o        options
	admA     *kadm.Client
	admB     *kadm.Client
	bin      string
	stamp    string
	created  []string // topics on A to delete
	logs     int      // invocation logs written to the work directory
	report   strings.Builder
	problems []string
}

func run(ctx context.Context, o options) (err error) {
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "bench-profile-"); err != nil {
			return err
		}
	} else if err = os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	logf("work directory %s", o.work)
	b := &bench{o: o, stamp: strconv.FormatInt(time.Now().Unix()%1000000, 10)}
	ca, err := kgo.NewClient(kgo.SeedBrokers(o.a))
	if err != nil {
		return err
	}
	defer ca.Close()
	cb, err := kgo.NewClient(kgo.SeedBrokers(o.b))
	if err != nil {
		return err
	}
	defer cb.Close()
	b.admA, b.admB = kadm.NewClient(ca), kadm.NewClient(cb)
	if !o.keep {
		defer b.cleanup()
	}
	fmt.Fprintf(&b.report, "machine: %d CPUs, %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	for _, s := range strings.Split(o.scenarios, ",") {
		if ctx.Err() != nil {
			break
		}
		switch strings.TrimSpace(s) {
		case "copy":
			err = b.copy(ctx)
		case "raw":
			err = b.raw(ctx)
		case "idle":
			err = b.idle(ctx)
		case "cold":
			err = b.cold(ctx)
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			b.problems = append(b.problems, fmt.Sprintf("%s: %v", s, err))
			logf("%s: %v", s, err)
		}
	}
	fmt.Print(b.report.String())
	if len(b.problems) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(b.problems), strings.Join(b.problems, "\n  "))
	}
	return ctx.Err()
}

func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < len(b.created); i += 100 {
		names := b.created[i:min(i+100, len(b.created))]
		remote := make([]string, len(names))
		for j, n := range names {
			remote[j] = "A." + n
		}
		_, _ = b.admA.DeleteTopics(ctx, names...)
		_, _ = b.admB.DeleteTopics(ctx, remote...)
	}
}
