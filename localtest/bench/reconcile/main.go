//go:build unix

// Command reconcile measures the reconcile function at scale on a real
// Kafka pair. It creates -topics source topics of -partitions partitions
// each on cluster A (every 50th with a config override, so config sync has
// work), writes an MM2 properties file selecting them for A->B, builds
// ./functions/reconcile and runs it as a user would
// (MIRROR_PROPERTIES_FILE=...), three ways:
//
//   - a dry run against an empty target (MIRROR_DRY_RUN=true): the plan;
//   - the first apply, which creates every remote topic;
//   - -steady further runs with nothing to change: the steady state, what
//     a schedule runs every few minutes.
//
// For each run it reads the program's one-line JSON summary (planned,
// applied, failed, duration_ms), its wall time, user+sys CPU and peak RSS
// (from the child's rusage), and prints a markdown table. Unless -keep is
// given it deletes the topics it created, on both clusters, at the end.
//
//	scripts/bench-reconcile.sh                  (starts and stops its own pair)
//	go -C localtest/bench run ./reconcile -a 127.0.0.1:19092 -b 127.0.0.1:29092 -topics 100
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	a, b         string
	topics       int
	partitions   int
	prefix       string
	batch        int
	steady       int
	keep         bool
	bin          string
	work         string
	runTimeout   time.Duration
	kafkaVersion string
}

func main() {
	var o options
	flag.StringVar(&o.a, "a", os.Getenv("MIRROR_TEST_A"), "bootstrap of cluster A, the source (from $MIRROR_TEST_A if not given)")
	flag.StringVar(&o.b, "b", os.Getenv("MIRROR_TEST_B"), "bootstrap of cluster B, the target (from $MIRROR_TEST_B if not given)")
	flag.IntVar(&o.topics, "topics", 1000, "source topics to create on A")
	flag.IntVar(&o.partitions, "partitions", 12, "partitions per source topic")
	flag.StringVar(&o.prefix, "prefix", "bench-reconcile-", "name prefix of the source topics, letters, digits and ._- (the properties file selects exactly these)")
	flag.IntVar(&o.batch, "batch", 100, "topics per CreateTopics/DeleteTopics request")
	flag.IntVar(&o.steady, "steady", 3, "steady-state runs (nothing to change) after the first apply")
	flag.BoolVar(&o.keep, "keep", false, "keep the topics afterwards (default: delete the bench topics on both clusters)")
	flag.StringVar(&o.bin, "bin", "", "reconcile binary to run (default: go build ./functions/reconcile from this module)")
	flag.StringVar(&o.work, "work", "", "directory for the properties file, binary and run logs (default: a new temporary directory, kept)")
	flag.DurationVar(&o.runTimeout, "run-timeout", 10*time.Minute, "kill a reconcile run that takes longer than this")
	flag.StringVar(&o.kafkaVersion, "kafka-version", os.Getenv("KAFKA_VERSION"), "Kafka version to print with the results (from $KAFKA_VERSION if not given)")
	flag.Parse()
	if o.a == "" || o.b == "" {
		fmt.Fprintln(os.Stderr, "bench: give -a and -b (or MIRROR_TEST_A and MIRROR_TEST_B)")
		os.Exit(2)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(o.prefix) || strings.HasPrefix(o.prefix, "__") {
		fmt.Fprintln(os.Stderr, "bench: -prefix must be letters, digits, '.', '_' or '-' and not start with __")
		os.Exit(2)
	}
	if o.topics < 1 || o.partitions < 1 || o.batch < 1 || o.steady < 0 {
		fmt.Fprintln(os.Stderr, "bench: -topics, -partitions and -batch must be >= 1, -steady >= 0")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// result is one reconcile run.
type result struct {
	name     string
	exit     int
	wall     time.Duration
	cpu      time.Duration // user + sys of the child
	maxRSS   int64         // bytes
	sum      summary
	kinds    map[string]int // actions by kind, from plans[].actions[]
	statuses map[string]int // actions by status
	notes    int
	parseErr error
	stderr   string // path of the run's stderr log
	tail     string // last lines of stderr when the run failed
}

// summary is the reconcile program's one-line JSON summary.
type summary = invocation.ReconcileSummary

func run(ctx context.Context, o options) (err error) {
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "bench-reconcile-"); err != nil {
			return err
		}
	} else if err = os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	logf("work directory %s", o.work)

	admA, closeA, err := admin(ctx, o.a)
	if err != nil {
		return fmt.Errorf("cluster A (%s): %w", o.a, err)
	}
	defer closeA()
	admB, closeB, err := admin(ctx, o.b)
	if err != nil {
		return fmt.Errorf("cluster B (%s): %w", o.b, err)
	}
	defer closeB()

	names := make([]string, o.topics)
	for i := range names {
		names[i] = fmt.Sprintf("%s%05d", o.prefix, i)
	}
	remotePrefix := "A." + o.prefix // DefaultReplicationPolicy, source alias A

	// Leftovers of an earlier run (-keep, or killed) would make the
	// "empty target" run measure something else: remove them first.
	if err := deletePrefixed(ctx, admA, "A", o.prefix, o.batch); err != nil {
		return err
	}
	if err := deletePrefixed(ctx, admB, "B", remotePrefix, o.batch); err != nil {
		return err
	}
	before, err := topicSet(ctx, admB)
	if err != nil {
		return fmt.Errorf("list topics on B: %w", err)
	}

	if !o.keep {
		defer func() {
			// Clean up even after a failure or an interrupt.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cerr := cleanup(cctx, o, admA, admB, remotePrefix, before)
			if cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
			}
		}()
	}

	t0 := time.Now()
	overrides, err := createSources(ctx, admA, names, int32(o.partitions), o.batch)
	if err != nil {
		return err
	}
	createTook := time.Since(t0)
	logf("created %d topics x %d partitions on A in %s (%d with config overrides); waiting for leaders", o.topics, o.partitions, createTook.Round(time.Millisecond), overrides)
	if err := waitLeaders(ctx, admA, names, o.partitions, 5*time.Minute); err != nil {
		return fmt.Errorf("source topics on A: %w", err)
	}
	sourceReady := time.Since(t0)

	props := filepath.Join(o.work, "connect-mirror-maker.properties")
	if err := os.WriteFile(props, []byte(properties(o)), 0o644); err != nil {
		return err
	}
	bin := o.bin
	if bin == "" {
		if bin, err = build(ctx, o.work); err != nil {
			return err
		}
	}

	var results []*result
	var failures []string
	runOne := func(name string, dry bool) *result {
		r := reconcile(ctx, o, bin, props, name, dry, len(results))
		results = append(results, r)
		logf("%-28s exit %d, %s", name, r.exit, r.line())
		if r.exit != 0 || r.parseErr != nil || r.sum.Failed > 0 {
			failures = append(failures, fmt.Sprintf("%s: exit %d, failed %d, error %q%s (log %s)%s",
				name, r.exit, r.sum.Failed, r.sum.Error, errSuffix(r.parseErr), r.stderr, r.tail))
		}
		return r
	}

	runOne("dry run, empty target", true)
	var st settle
	if ctx.Err() == nil {
		got, err := remoteTopics(ctx, admB, remotePrefix)
		if err != nil {
			return err
		}
		if len(got) != 0 {
			failures = append(failures, fmt.Sprintf("the dry run created %d topics on B", len(got)))
		}
		runOne("first apply (creates all)", false)
	}
	if ctx.Err() == nil {
		// reconcile waits (briefly) until what it created is visible; see
		// how much of it B really shows, then wait for the rest, so that
		// the steady-state runs find a settled target.
		remotes := make([]string, len(names))
		for i, n := range names {
			remotes[i] = "A." + n
		}
		t0 := time.Now()
		st.notReady, err = notReady(ctx, admB, remotes, o.partitions)
		if err != nil {
			return fmt.Errorf("list remote topics on B: %w", err)
		}
		if st.notReady > 0 {
			logf("right after the first apply, %d of %d remote topics are not yet listed with all partitions led on B; waiting", st.notReady, len(remotes))
			if err := waitLeaders(ctx, admB, remotes, o.partitions, 10*time.Minute); err != nil {
				failures = append(failures, fmt.Sprintf("remote topics on B after the first apply: %v", err))
			}
			st.took = time.Since(t0)
			logf("B shows every remote topic with all partitions led %s after the first apply ended", st.took.Round(time.Millisecond))
		}
	}
	for i := 1; i <= o.steady && ctx.Err() == nil; i++ {
		runOne(fmt.Sprintf("steady state, run %d", i), false)
	}

	fmt.Print(report(o, results, createTook, sourceReady, st, bin))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	return nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ", summary: " + err.Error()
}

func admin(ctx context.Context, bootstrap string) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RequestTimeoutOverhead(60*time.Second),
	)
	if err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, nil, fmt.Errorf("unreachable: %w", err)
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(60_000)
	return adm, cl.Close, nil
}

// configFor gives every 50th topic a config override, alternating between
// time retention and compaction, so that config sync has something to copy.
func configFor(i int) map[string]*string {
	switch i % 100 {
	case 0:
		return map[string]*string{"retention.ms": kadm.StringPtr("86400000"), "segment.bytes": kadm.StringPtr("104857600")}
	case 50:
		return map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "min.compaction.lag.ms": kadm.StringPtr("60000")}
	}
	return nil
}

// createSources creates the topics on A in batches; topics with the same
// configs share a request.
func createSources(ctx context.Context, adm *kadm.Client, names []string, partitions int32, batch int) (int, error) {
	groups := map[string][]string{}
	cfgs := map[string]map[string]*string{}
	overrides := 0
	for i, n := range names {
		c := configFor(i)
		key := configKey(c)
		if c != nil {
			overrides++
		}
		groups[key] = append(groups[key], n)
		cfgs[key] = c
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := groups[k]
		for lo := 0; lo < len(g); lo += batch {
			hi := min(lo+batch, len(g))
			rs, err := adm.CreateTopics(ctx, partitions, 1, cfgs[k], g[lo:hi]...)
			if err != nil {
				return 0, fmt.Errorf("create topics on A: %w", err)
			}
			for _, r := range rs.Sorted() {
				if r.Err != nil {
					return 0, fmt.Errorf("create topic %s on A: %w %s", r.Topic, r.Err, r.ErrMessage)
				}
			}
		}
	}
	return overrides, nil
}

func configKey(c map[string]*string) string {
	parts := make([]string, 0, len(c))
	for k, v := range c {
		parts = append(parts, k+"="+*v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// waitLeaders waits until every topic shows all its partitions with a leader.
func waitLeaders(ctx context.Context, adm *kadm.Client, names []string, partitions int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pending, err := notReady(ctx, adm, names, partitions)
		if err == nil && pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d topics not ready after %s (listing error: %v)", pending, len(names), timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// notReady counts the topics not listed with all partitions led.
func notReady(ctx context.Context, adm *kadm.Client, names []string, partitions int) (int, error) {
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range names {
		d, ok := td[t]
		if !ok || d.Err != nil || len(d.Partitions) < partitions {
			n++
			continue
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				n++
				break
			}
		}
	}
	return n, nil
}

func topicSet(ctx context.Context, adm *kadm.Client) (map[string]bool, error) {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	s := map[string]bool{}
	for t := range td {
		s[t] = true
	}
	return s, nil
}

// remoteTopics lists the topics on a cluster with the prefix and their
// partition counts.
func remoteTopics(ctx context.Context, adm *kadm.Client, prefix string) (map[string]int, error) {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	got := map[string]int{}
	for t, d := range td {
		if strings.HasPrefix(t, prefix) && d.Err == nil {
			got[t] = len(d.Partitions)
		}
	}
	return got, nil
}

func deletePrefixed(ctx context.Context, adm *kadm.Client, cluster, prefix string, batch int) error {
	got, err := remoteTopics(ctx, adm, prefix)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cluster, err)
	}
	if len(got) == 0 {
		return nil
	}
	names := make([]string, 0, len(got))
	for t := range got {
		names = append(names, t)
	}
	logf("deleting %d topics %s* left on %s by an earlier run", len(names), prefix, cluster)
	return deleteTopics(ctx, adm, cluster, names, batch)
}

// deleteTopics deletes the topics in batches and waits until they are gone
// from the metadata, so that they can be created again right away.
func deleteTopics(ctx context.Context, adm *kadm.Client, cluster string, names []string, batch int) error {
	sort.Strings(names)
	for lo := 0; lo < len(names); lo += batch {
		hi := min(lo+batch, len(names))
		rs, err := adm.DeleteTopics(ctx, names[lo:hi]...)
		if err != nil {
			return fmt.Errorf("delete topics on %s: %w", cluster, err)
		}
		for _, r := range rs.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("delete topic %s on %s: %w %s", r.Topic, cluster, r.Err, r.ErrMessage)
			}
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s, err := topicSet(ctx, adm)
		left := 0
		if err == nil {
			for _, n := range names {
				if s[n] {
					left++
				}
			}
			if left == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s: %d topics still listed 2 minutes after their deletion (listing error: %v)", cluster, left, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cleanup deletes the source topics on A and, on B, the remote topics and
// any internal topic (offset syncs, checkpoints, heartbeats) the runs created.
func cleanup(ctx context.Context, o options, admA, admB *kadm.Client, remotePrefix string, before map[string]bool) error {
	var errs []error
	if err := deletePrefixedQuiet(ctx, admA, "A", o.prefix, o.batch); err != nil {
		errs = append(errs, err)
	}
	after, err := topicSet(ctx, admB)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list topics on B: %w", err))...)
	}
	var onB []string
	for t := range after {
		if before[t] {
			continue
		}
		if strings.HasPrefix(t, remotePrefix) || strings.HasPrefix(t, "mm2-") || strings.HasSuffix(t, ".internal") || t == "heartbeats" || strings.HasSuffix(t, ".heartbeats") {
			onB = append(onB, t)
		}
	}
	if len(onB) > 0 {
		if err := deleteTopics(ctx, admB, "B", onB, o.batch); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		logf("deleted the bench topics on A and %d topics on B", len(onB))
	}
	return errors.Join(errs...)
}

func deletePrefixedQuiet(ctx context.Context, adm *kadm.Client, cluster, prefix string, batch int) error {
	got, err := remoteTopics(ctx, adm, prefix)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cluster, err)
	}
	names := make([]string, 0, len(got))
	for t := range got {
		names = append(names, t)
	}
	if len(names) == 0 {
		return nil
	}
	return deleteTopics(ctx, adm, cluster, names, batch)
}

func properties(o options) string {
	return strings.Join([]string{
		"# written by localtest/bench/reconcile",
		"clusters = A, B",
		"A.bootstrap.servers = " + o.a,
		"B.bootstrap.servers = " + o.b,
		"A->B.enabled = true",
		"B->A.enabled = false",
		// [.] rather than \. : a properties file drops a lone backslash.
		"A->B.topics = " + strings.ReplaceAll(o.prefix, ".", "[.]") + ".*",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"",
	}, "\n")
}

// build compiles the mirrorless module's ./functions/reconcile.
func build(ctx context.Context, work string) (string, error) {
	bin := filepath.Join(work, "reconcile")
	t0 := time.Now()
	if err := kafkatest.Build(ctx, bin, "functions/reconcile", false); err != nil {
		return "", fmt.Errorf("%w (or give -bin)", err)
	}
	logf("built %s in %s", bin, time.Since(t0).Round(time.Millisecond))
	return bin, nil
}

// childEnv is this process's environment without MIRROR_* settings (a
// stray MIRROR_PROPERTIES would win over the file) and without the Lambda
// runtime variable (the program would wait for Lambda events).
func childEnv(props string, dry bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MIRROR_") || strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "MIRROR_PROPERTIES_FILE="+props, fmt.Sprintf("MIRROR_DRY_RUN=%t", dry))
}

func reconcile(ctx context.Context, o options, bin, props, name string, dry bool, n int) *result {
	r := &result{name: name, exit: -1}
	r.stderr = filepath.Join(o.work, fmt.Sprintf("run-%d.stderr.log", n))
	stdoutPath := filepath.Join(o.work, fmt.Sprintf("run-%d.stdout.json", n))
	errFile, err := os.Create(r.stderr)
	if err != nil {
		r.parseErr = err
		return r
	}
	defer errFile.Close()
	rctx, cancel := context.WithTimeout(ctx, o.runTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin)
	cmd.Env = childEnv(props, dry)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, errFile

	t0 := time.Now()
	runErr := cmd.Run()
	r.wall = time.Since(t0)
	if st := cmd.ProcessState; st != nil {
		r.exit = st.ExitCode()
		r.cpu = st.UserTime() + st.SystemTime()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = int64(ru.Maxrss) * 1024 // KiB on Linux
			if runtime.GOOS == "darwin" {
				r.maxRSS = int64(ru.Maxrss) // bytes on macOS
			}
		}
	}
	_ = os.WriteFile(stdoutPath, stdout.Bytes(), 0o644)
	if runErr != nil && cmd.ProcessState == nil {
		r.parseErr = runErr
	} else {
		r.parseErr = parse(stdout.Bytes(), r)
	}
	if rctx.Err() == context.DeadlineExceeded {
		r.parseErr = errors.Join(r.parseErr, fmt.Errorf("killed after -run-timeout %s", o.runTimeout))
	}
	if r.exit != 0 || r.parseErr != nil || r.sum.Failed > 0 {
		r.tail = tail(r.stderr, 5)
	}
	return r
}

// parse reads the last JSON line of the program's stdout.
func parse(out []byte, r *result) error {
	var line []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	for sc.Scan() {
		if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 && b[0] == '{' {
			line = append(line[:0], b...)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdout: %w", err)
	}
	if line == nil {
		return errors.New("no JSON summary on stdout")
	}
	if err := json.Unmarshal(line, &r.sum); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	parsePlans(line, r)
	return nil
}

// parsePlans counts actions by kind and status if the summary has plans
// of the known shape; anything else is ignored.
func parsePlans(line []byte, r *result) {
	var v struct {
		Plans []struct {
			Actions []struct {
				Kind   string `json:"kind"`
				Status string `json:"status"`
			} `json:"actions"`
			Notes []json.RawMessage `json:"notes"`
		} `json:"plans"`
	}
	if json.Unmarshal(line, &v) != nil {
		return
	}
	r.kinds, r.statuses = map[string]int{}, map[string]int{}
	for _, p := range v.Plans {
		r.notes += len(p.Notes)
		for _, a := range p.Actions {
			r.kinds[a.Kind]++
			r.statuses[a.Status]++
		}
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "..."
		}
	}
	return "\n      " + strings.Join(lines, "\n      ")
}

func (r *result) line() string {
	return fmt.Sprintf("planned %d applied %d failed %d, duration_ms %d, wall %s, cpu %s, max RSS %s",
		r.sum.Planned, r.sum.Applied, r.sum.Failed, r.sum.DurationMs, secs(r.wall), secs(r.cpu), mib(r.maxRSS))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func kindsString(m map[string]int) string {
	if len(m) == 0 {
		return "—"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// settle is how the target looked after the first apply.
type settle struct {
	notReady int           // remote topics not listed with all partitions led right after the run
	took     time.Duration // until all were
}

func report(o options, results []*result, createTook, sourceReady time.Duration, st settle, bin string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Reconcile: %d topics x %d partitions (%d source partitions)\n\n", o.topics, o.partitions, o.topics*o.partitions)
	fmt.Fprintln(&b, "| run | planned | applied | failed | `duration_ms` | wall | CPU user+sys | peak RSS | exit | actions by kind |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %s | %d | %s |\n",
			r.name, r.sum.Planned, r.sum.Applied, r.sum.Failed, r.sum.DurationMs, secs(r.wall), secs(r.cpu), mib(r.maxRSS), r.exit, kindsString(r.kinds))
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- `duration_ms` is the program's own figure (plan + apply, after connecting); wall is the whole process (start, connect, run, exit).\n")
	fmt.Fprintf(&b, "- Source topics: created on A with CreateTopics in batches of %d in %s, all leaders elected after %s; every 50th topic has config overrides (retention.ms or cleanup.policy=compact).\n",
		o.batch, secs(createTook), secs(sourceReady))
	for _, r := range results {
		if !r.sum.DryRun && r.sum.Planned > 0 && r.exit == 0 {
			fmt.Fprintf(&b, "- %s: %.1f ms per planned action.\n", r.name, float64(r.sum.DurationMs)/float64(r.sum.Planned))
		}
		unusual := false
		for st := range r.statuses {
			unusual = unusual || (st != "applied" && st != "planned")
		}
		if unusual {
			fmt.Fprintf(&b, "- %s: actions by status: %s.\n", r.name, kindsString(r.statuses))
		}
	}
	if st.notReady > 0 {
		fmt.Fprintf(&b, "- Right after the first apply, %d of %d remote topics were not yet listed on B with all partitions led; B showed all of them %s later. The steady-state runs started after that.\n",
			st.notReady, o.topics, secs(st.took))
	}
	for _, r := range results {
		if r.notes > 0 {
			fmt.Fprintf(&b, "- %s: %d plan notes (see %s).\n", r.name, r.notes, r.stderr)
		}
		if r.sum.Error != "" {
			msg := r.sum.Error
			if len(msg) > 300 {
				msg = msg[:300] + "..."
			}
			fmt.Fprintf(&b, "- %s: error: %s\n", r.name, msg)
		}
	}
	fmt.Fprintf(&b, "- Machine: %s/%s, %d CPUs (%s), %s memory; %s; Kafka %s (A %s, B %s).\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), memTotal(), goVersion(), orUnknown(o.kafkaVersion), o.a, o.b)
	fmt.Fprintf(&b, "- Binary: %s; properties and run logs in %s.\n", bin, o.work)
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "model unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "model unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}
