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
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
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

// properties selects topics starting with prefix for A->B.
func (b *bench) properties(name, prefix string) (string, error) {
	lines := []string{
		"clusters = A, B",
		"A.bootstrap.servers = " + b.o.a,
		"B.bootstrap.servers = " + b.o.b,
		"A->B.enabled = true",
		"A->B.topics = " + strings.ReplaceAll(prefix, ".", `\.`) + ".*",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
	}
	for _, l := range strings.Split(b.o.extraProps, ";") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	path := filepath.Join(b.o.work, name+".properties")
	return path, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func (b *bench) mirrorBin(ctx context.Context) (string, error) {
	if b.bin != "" {
		return b.bin, nil
	}
	if b.o.bin != "" {
		b.bin = b.o.bin
		return b.bin, nil
	}
	out := filepath.Join(b.o.work, "mirror")
	if err := kafkatest.Build(ctx, out, "functions/mirror", false); err != nil {
		return "", err
	}
	b.bin = out
	return out, nil
}

func (b *bench) createTopics(ctx context.Context, names []string, partitions int32) error {
	for i := 0; i < len(names); i += 100 {
		chunk := names[i:min(i+100, len(names))]
		resp, err := b.admA.CreateTopics(ctx, partitions, 1, nil, chunk...)
		if err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		if err := resp.Error(); err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		b.created = append(b.created, chunk...)
	}
	return nil
}

// seed writes n records of size value bytes over the topics' partitions,
// lz4-compressed, with random keys and two headers.
func (b *bench) seed(ctx context.Context, topics []string, partitions int32, n, size int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.o.a), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(20000), kgo.UnknownTopicRetries(-1))
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	var (
		mu    sync.Mutex
		first error
	)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		key := make([]byte, 16)
		binary.LittleEndian.PutUint64(key, rng.Uint64())
		binary.LittleEndian.PutUint64(key[8:], rng.Uint64())
		t := topics[i%len(topics)]
		p := int32((i / len(topics)) % int(partitions))
		r := &kgo.Record{Topic: t, Partition: p, Key: key, Value: textValue(rng, size),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}, {Key: "source", Value: []byte("bench")}}}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	logf("seeded %d records of %d bytes over %d topic(s) x %d partitions in %s", n, size, len(topics), partitions, time.Since(t0).Round(time.Millisecond))
	return first
}

// words make text-like values: random within a record, so lz4 finds about
// what it finds in JSON or logs (the same generator as localtest/bench/compare).
var words = []string{
	"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ", "hotel ",
	"india ", "juliett ", "kilo ", "lima ", "mike ", "november ", "oscar ", "papa ",
	"quebec ", "romeo ", "sierra ", "tango ", "uniform ", "victor ", "whiskey ", "xray ",
	"yankee ", "zulu ", "order-id=", "amount=", "currency=EUR ", "status=ok ", "{\"k\":", "},",
}

func textValue(rng *rand.Rand, size int) []byte {
	val := make([]byte, 0, size+16)
	for len(val) < size {
		x := rng.Uint64()
		for i := 0; i < 8 && len(val) < size; i++ {
			val = append(val, words[x&31]...)
			x >>= 8
		}
	}
	return val[:size]
}

// reconcile creates the remote topics (in process) and waits until B
// shows them with every partition led.
func (b *bench) reconcile(ctx context.Context, props string, remotes []string, partitions int) error {
	a, err := b.app(ctx, props)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		td, err := b.admB.ListTopics(ctx, remotes...)
		if err != nil {
			return err
		}
		ready := 0
		for _, t := range remotes {
			d, ok := td[t]
			if !ok || d.Err != nil || len(d.Partitions) != partitions {
				continue
			}
			led := true
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					led = false
				}
			}
			if led {
				ready++
			}
		}
		if ready == len(remotes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d remote topics ready on B", ready, len(remotes))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (b *bench) settingsEnv(props string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MIRROR_PROPERTIES_FILE=" + props}
	for _, kv := range strings.Split(b.o.extraEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

// app builds an in-process App at default settings (plus -env MIRROR_*).
func (b *bench) app(ctx context.Context, props string) (*app.App, error) {
	for _, kv := range b.settingsEnv(props) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MIRROR_") {
			os.Setenv(k, v)
		}
	}
	s, err := config.LoadSettings()
	if err != nil {
		return nil, err
	}
	cfg, err := s.LoadConfig()
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PROFILE_VERBOSE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return app.New(ctx, s, cfg, logger)
}

// invocation is one mirror program run.
type invocation struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64
	sum    app.MirrorSummary
	exit   int
	stderr string
}

func (b *bench) invoke(ctx context.Context, props string) (invocation, error) {
	bin, err := b.mirrorBin(ctx)
	if err != nil {
		return invocation{}, err
	}
	ictx, cancel := context.WithTimeout(ctx, b.o.invocationLimit)
	defer cancel()
	cmd := exec.CommandContext(ictx, bin)
	cmd.Env = b.settingsEnv(props)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return invocation{}, err
	}
	hwm := sampleHWM(cmd.Process.Pid)
	err = cmd.Wait()
	inv := invocation{wall: time.Since(t0), stderr: errb.String(), maxRSS: hwm()}
	b.logs++
	_ = os.WriteFile(filepath.Join(b.o.work, fmt.Sprintf("mirror-%s-%03d.log", b.stamp, b.logs)), errb.Bytes(), 0o644)
	if cmd.ProcessState != nil {
		inv.exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			inv.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if jerr := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &inv.sum); jerr != nil {
		return inv, fmt.Errorf("mirror exit %v: summary %q: %v; stderr: %s", err, out.String(), jerr, tail(inv.stderr))
	}
	if err != nil {
		return inv, fmt.Errorf("mirror: %v: %s", err, tail(inv.stderr))
	}
	return inv, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func (b *bench) copy(ctx context.Context) error {
	prefix := "prof-copy-" + b.stamp + "-" + b.o.mode
	topic := prefix + "-t"
	parts := int32(b.o.partitions)
	if err := b.createTopics(ctx, []string{topic}, parts); err != nil {
		return err
	}
	if err := b.seed(ctx, []string{topic}, parts, b.o.records, b.o.size); err != nil {
		return err
	}
	props, err := b.properties(prefix, prefix)
	if err != nil {
		return err
	}
	if err := b.reconcile(ctx, props, []string{"A." + topic}, b.o.partitions); err != nil {
		return err
	}
	var (
		invs    []invocation
		records int64
		bytesN  int64
	)
	t0 := time.Now()
	switch b.o.mode {
	case "exec":
		for i := 0; i < b.o.maxInvocations; i++ {
			inv, err := b.invoke(ctx, props)
			if err != nil {
				return err
			}
			invs = append(invs, inv)
			records += inv.sum.Records
			bytesN += inv.sum.Bytes
			logf("invocation %d: %d records, lag left %d, %s, cpu %s, peak RSS %s", i+1, inv.sum.Records, inv.sum.LagLeft, inv.wall.Round(time.Millisecond), inv.cpu.Round(time.Millisecond), mib(inv.maxRSS))
			if inv.sum.LagLeft == 0 {
				break
			}
		}
	case "inproc":
		var err error
		invs, records, bytesN, err = b.inproc(ctx, props)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown -mode %q", b.o.mode)
	}
	wall := time.Since(t0)
	if err := b.verify(ctx, topic, "A."+topic); err != nil {
		return err
	}
	var cpu time.Duration
	var peak int64
	for _, inv := range invs {
		cpu += inv.cpu
		peak = max(peak, inv.maxRSS)
	}
	fmt.Fprintf(&b.report, "### copy (%s): %d records x %d B, %d partitions\n\n", b.o.mode, b.o.records, b.o.size, b.o.partitions)
	fmt.Fprintf(&b.report, "| invocations | records | MB copied | wall | MB/s | records/s | CPU user+sys | CPU s/GiB | peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	mb := float64(bytesN) / 1e6
	fmt.Fprintf(&b.report, "| %d | %d | %.1f | %.2f s | %.1f | %.0f | %.2f s | %.2f | %s |\n\n", len(invs), records, mb, wall.Seconds(),
		mb/wall.Seconds(), float64(records)/wall.Seconds(), cpu.Seconds(), cpu.Seconds()/(float64(bytesN)/(1<<30)), mib(peak))
	return nil
}

// inproc runs invocations in this process, profiling them.
func (b *bench) inproc(ctx context.Context, props string) ([]invocation, int64, int64, error) {
	a, err := b.app(ctx, props)
	if err != nil {
		return nil, 0, 0, err
	}
	defer a.Close()
	if b.o.cpuProfile != "" {
		f, err := os.Create(b.o.cpuProfile)
		if err != nil {
			return nil, 0, 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, 0, 0, err
		}
		defer pprof.StopCPUProfile()
	}
	stopSampler := b.heapSampler()
	defer stopSampler()
	// Peak RSS of this process counts from here (not the seeding), and
	// the live heap after each collection is the figure to compare.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	peakLive, stopLive := liveSampler()
	defer func() {
		stopLive()
		logf("in-process: peak live heap after GC %s, peak RSS %s", mib(int64(peakLive())), mib(vmHWM()))
		fmt.Fprintf(&b.report, "in-process: peak live heap (after GC) %s, peak RSS %s\n\n", mib(int64(peakLive())), mib(vmHWM()))
	}()
	var invs []invocation
	var records, bytesN int64
	for i := 0; i < b.o.maxInvocations; i++ {
		var r0, r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		sum, err := a.Mirror(ctx, app.NewOwner(""))
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		if err != nil {
			return invs, records, bytesN, err
		}
		inv := invocation{wall: time.Since(t0), sum: *sum, maxRSS: r1.Maxrss * 1024,
			cpu: time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())}
		invs = append(invs, inv)
		records += sum.Records
		bytesN += sum.Bytes
		logf("invocation %d: %d records, lag left %d, %s, cpu %s, peak RSS so far %s", i+1, sum.Records, sum.LagLeft, inv.wall.Round(time.Millisecond), inv.cpu.Round(time.Millisecond), mib(inv.maxRSS))
		if sum.LagLeft == 0 {
			break
		}
	}
	return invs, records, bytesN, nil
}

// liveSampler tracks the largest live heap seen after a collection.
func liveSampler() (peak func() uint64, stop func()) {
	var mu sync.Mutex
	var max uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			mu.Lock()
			max = maxOf(max, sample[0].Value.Uint64())
			mu.Unlock()
		}
	}()
	return func() uint64 { mu.Lock(); defer mu.Unlock(); return max }, func() { close(done); wg.Wait() }
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// sampleHWM follows a child's peak RSS (VmHWM) every 10 ms until it exits;
// the returned func waits for the sampler and gives the last value read.
// rusage's ru_maxrss is no use here: Go starts children with vfork, and the
// kernel charges the parent's high-water mark to the child at exec.
func sampleHWM(pid int) func() int64 {
	var last int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			b, err := os.ReadFile(path)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					if n > 0 {
						last = n << 10
					}
				}
				if v, ok := strings.CutPrefix(l, "State:"); ok && strings.Contains(v, "zombie") {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() int64 { <-done; return last }
}

// vmHWM is this process's peak RSS (since the last clear_refs reset).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// heapSampler writes a heap profile whenever live heap grows 10% past the
// last one written, so the file ends up describing (nearly) the peak.
func (b *bench) heapSampler() func() {
	if b.o.heapProfile == "" {
		return func() {}
	}
	runtime.MemProfileRate = 64 << 10
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var written uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			live := sample[0].Value.Uint64()
			if live < written+written/10 {
				continue
			}
			written = live
			f, err := os.Create(b.o.heapProfile)
			if err != nil {
				logf("heap profile: %v", err)
				return
			}
			// The profile describes the heap at the last collection,
			// the one that measured this live size.
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
			logf("heap profile at %s live", mib(int64(live)))
		}
	}()
	return func() { close(done); wg.Wait() }
}

// verify compares committed record counts per partition.
func (b *bench) verify(ctx context.Context, src, dst string) error {
	want, err := countCommitted(ctx, b.o.a, src)
	if err != nil {
		return fmt.Errorf("count %s on A: %w", src, err)
	}
	got, err := countCommitted(ctx, b.o.b, dst)
	if err != nil {
		return fmt.Errorf("count %s on B: %w", dst, err)
	}
	for p, n := range want {
		if got[p] != n {
			return fmt.Errorf("%s/%d has %d records, the source %d", dst, p, got[p], n)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s has %d partitions with data, the source %d", dst, len(got), len(want))
	}
	logf("verified %s: every partition has the source's record count", dst)
	return nil
}

// countCommitted reads a topic read_committed to its last stable offsets
// and counts data records per partition.
func countCommitted(ctx context.Context, addr, topic string) (map[int32]int64, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	// A commit's markers follow EndTxn: wait until the last stable offset
	// reaches the high watermark, or the count misses the last
	// transaction of a mirror that has just exited.
	var ends kadm.ListedOffsets
	kadmin := kadm.NewClient(adm)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ends, err = kadmin.ListCommittedOffsets(ctx, topic)
		if err != nil {
			adm.Close()
			return nil, err
		}
		hwm, err := kadmin.ListEndOffsets(ctx, topic)
		if err != nil {
			adm.Close()
			return nil, err
		}
		stable := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := ends.Lookup(topic, o.Partition); !ok || l.Offset != o.Offset {
				stable = false
			}
		})
		if stable || time.Now().After(deadline) {
			break
		}
	}
	adm.Close()
	parts := map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			parts[o.Partition] = kgo.NewOffset().AtStart()
			left++
		}
	})
	counts := map[int32]int64{}
	if left == 0 {
		return counts, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	done := map[int32]bool{}
	for len(done) < left {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				counts[r.Partition]++
			}
			end, _ := ends.Lookup(topic, r.Partition)
			if r.Offset+1 >= end.Offset {
				done[r.Partition] = true
			}
		})
	}
	return counts, nil
}

// raw copies a fresh seed with the raw pipe in a child process.
func (b *bench) raw(ctx context.Context) error {
	src := "prof-raw-" + b.stamp + "-src"
	dst := "prof-raw-" + b.stamp + "-dst"
	parts := int32(b.o.partitions)
	if err := b.createTopics(ctx, []string{src}, parts); err != nil {
		return err
	}
	resp, err := b.admB.CreateTopics(ctx, parts, 1, nil, dst)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create %s on B: %w", dst, err)
	}
	defer func() {
		if !b.o.keep {
			_, _ = b.admB.DeleteTopics(context.Background(), dst)
		}
	}()
	if err := b.seed(ctx, []string{src}, parts, b.o.records, b.o.size); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-a", b.o.a, "-b", b.o.b, "-raw-child", fmt.Sprintf("%s,%s,%d", src, dst, parts))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("raw pipe: %w", err)
	}
	hwm := sampleHWM(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("raw pipe: %w", err)
	}
	peakRSS := hwm()
	wall := time.Since(t0)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var res struct {
		Records int64
		Bytes   int64
		Copy    time.Duration
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return fmt.Errorf("raw pipe output %q: %w", out.String(), err)
	}
	if err := b.verify(ctx, src, dst); err != nil {
		return err
	}
	mb := float64(res.Bytes) / 1e6
	fmt.Fprintf(&b.report, "### raw pipe: %d records x %d B, %d partitions (no transactions, acks=all)\n\n", b.o.records, b.o.size, b.o.partitions)
	fmt.Fprintf(&b.report, "| records | MB copied | process wall | copy wall | MB/s (copy) | CPU user+sys | CPU s/GiB | peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b.report, "| %d | %.1f | %.2f s | %.2f s | %.1f | %.2f s | %.2f | %s |\n\n", res.Records, mb, wall.Seconds(), res.Copy.Seconds(),
		mb/res.Copy.Seconds(), cpu.Seconds(), cpu.Seconds()/(float64(res.Bytes)/(1<<30)), mib(peakRSS))
	return nil
}

// rawChild is the raw pipe: read src from the start to its end, produce
// every record to the same partition of dst, acks=all, no transactions.
func rawChild(ctx context.Context, o options) error {
	f := strings.Split(o.rawChild, ",")
	if len(f) != 3 {
		return errors.New("-raw-child src,dst,partitions")
	}
	src, dst := f[0], f[1]
	adm, err := kgo.NewClient(kgo.SeedBrokers(o.a))
	if err != nil {
		return err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, src)
	adm.Close()
	if err != nil {
		return err
	}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Offset > 0 {
			parts[lo.Partition] = kgo.NewOffset().AtStart()
		}
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(o.a), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{src: parts}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	defer cons.Close()
	// Uncompressed, like mirrorless at its defaults: the same output.
	prod, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer prod.Close()
	t0 := time.Now()
	var (
		records, bytesN int64
		mu              sync.Mutex
		perr            error
	)
	done := map[int32]bool{}
	for len(done) < len(parts) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			bytesN += int64(len(r.Key) + len(r.Value))
			for _, h := range r.Headers {
				bytesN += int64(len(h.Key) + len(h.Value))
			}
			prod.Produce(ctx, &kgo.Record{Topic: dst, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp},
				func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						perr = err
						mu.Unlock()
					}
				})
			end, _ := ends.Lookup(src, r.Partition)
			if r.Offset+1 >= end.Offset {
				done[r.Partition] = true
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"Records": records, "Bytes": bytesN, "Copy": time.Since(t0)})
}

// idle measures invocations with nothing to copy over many partitions.
func (b *bench) idle(ctx context.Context) error {
	prefix := "prof-idle-" + b.stamp
	names := make([]string, b.o.idleTopics)
	remotes := make([]string, len(names))
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
		remotes[i] = "A." + names[i]
	}
	parts := int32(b.o.idlePartitions)
	if err := b.createTopics(ctx, names, parts); err != nil {
		return err
	}
	if err := b.seed(ctx, names, parts, len(names)*int(parts), 100); err != nil {
		return err
	}
	props, err := b.properties(prefix, prefix)
	if err != nil {
		return err
	}
	if err := b.reconcile(ctx, props, remotes, int(parts)); err != nil {
		return err
	}
	// Copy everything, then run until an invocation claims nothing.
	for i := 0; ; i++ {
		inv, err := b.invoke(ctx, props)
		if err != nil {
			return err
		}
		logf("idle setup run %d: %d records, %d units claimed, lag left %d, %s", i+1, inv.sum.Records, inv.sum.UnitsClaimed, inv.sum.LagLeft, inv.wall.Round(time.Millisecond))
		if inv.sum.LagLeft == 0 && inv.sum.UnitsClaimed == 0 {
			break
		}
		if i == 50 {
			return errors.New("idle: setup did not settle in 50 invocations")
		}
	}
	fmt.Fprintf(&b.report, "### idle invocation: %d topics x %d partitions = %d partitions, nothing to copy\n\n", len(names), parts, len(names)*int(parts))
	fmt.Fprintf(&b.report, "| run | process wall | `duration_ms` | CPU user+sys | peak RSS | units claimed |\n|---:|---:|---:|---:|---:|---:|\n")
	for i := 0; i < b.o.idleRuns; i++ {
		inv, err := b.invoke(ctx, props)
		if err != nil {
			return err
		}
		if inv.sum.Records != 0 {
			return fmt.Errorf("idle run copied %d records", inv.sum.Records)
		}
		fmt.Fprintf(&b.report, "| %d | %d ms | %d | %d ms | %s | %d |\n", i+1, inv.wall.Milliseconds(), inv.sum.DurationMs, inv.cpu.Milliseconds(), mib(inv.maxRSS), inv.sum.UnitsClaimed)
	}
	b.report.WriteString("\n")
	return nil
}

// cold measures program start to the first record produced on B.
func (b *bench) cold(ctx context.Context) error {
	bin, err := b.mirrorBin(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b.report, "### cold start: program start to first record produced on B (1 record, fresh topic)\n\n")
	fmt.Fprintf(&b.report, "| run | first record | process wall | `duration_ms` |\n|---:|---:|---:|---:|\n")
	for i := 0; i < b.o.coldRuns; i++ {
		prefix := fmt.Sprintf("prof-cold-%s-%d", b.stamp, i)
		topic := prefix + "-t"
		if err := b.createTopics(ctx, []string{topic}, 1); err != nil {
			return err
		}
		if err := b.seed(ctx, []string{topic}, 1, 1, 100); err != nil {
			return err
		}
		props, err := b.properties(prefix, prefix)
		if err != nil {
			return err
		}
		if err := b.reconcile(ctx, props, []string{"A." + topic}, 1); err != nil {
			return err
		}
		// Read uncommitted: the record is seen when produced, not when
		// its transaction commits.
		cons, err := kgo.NewClient(kgo.SeedBrokers(b.o.b), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"A." + topic: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchMaxWait(50*time.Millisecond))
		if err != nil {
			return err
		}
		if err := cons.Ping(ctx); err != nil {
			cons.Close()
			return err
		}
		seen := make(chan time.Time, 1)
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		go func() {
			for pctx.Err() == nil {
				fs := cons.PollFetches(pctx)
				if fs.NumRecords() > 0 {
					seen <- time.Now()
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond) // the consumer's first fetch is in flight
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = b.settingsEnv(props)
		var out bytes.Buffer
		cmd.Stdout = &out
		t0 := time.Now()
		err = cmd.Run()
		wall := time.Since(t0)
		var first time.Time
		select {
		case first = <-seen:
		case <-pctx.Done():
		}
		cancel()
		cons.Close()
		if err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
		if first.IsZero() {
			return errors.New("the record never appeared on B")
		}
		var sum app.MirrorSummary
		_ = json.Unmarshal(bytes.TrimSpace(out.Bytes()), &sum)
		fmt.Fprintf(&b.report, "| %d | %d ms | %d ms | %d |\n", i+1, first.Sub(t0).Milliseconds(), wall.Milliseconds(), sum.DurationMs)
	}
	b.report.WriteString("\n")
	return nil
}
