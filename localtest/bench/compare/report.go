package main

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

type genStat struct {
	w    *workload
	took time.Duration
}

type report struct {
	opts                  *options
	started               time.Time
	loadBefore, loadAfter string
	gen                   []genStat
	results               []*result
	rounds                []*result // every round of repeated workloads
	idle                  *idleStats
	idleErr               string
	idleBig               *idleStats // workload idle10k
	idleBigErr            string
	lat                   []*latencyStats // workload lat: batch mode, tail mode
	latErrs               []string
	settleNotes           []string // deleted topics whose files the bench could not wait for
	cold                  []coldRun
	coldErr               string
}

func (rp *report) find(w, m string) *result {
	for _, r := range rp.results {
		if r.Workload == w && r.Method == m && r.Err == "" {
			return r
		}
	}
	return nil
}

func (rp *report) markdown() string {
	var b strings.Builder
	o := rp.opts
	fmt.Fprintf(&b, "\n### Copy: mirrorless, raw pipe and MirrorMaker 2 (scale %g)\n\n", o.scale)
	for _, g := range rp.gen {
		fmt.Fprintf(&b, "- %s; produced on A (lz4) in %s.\n", g.w, secs(g.took))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| workload | method | wall | first record after | MB/s | MB/s after first record | records/s | CPU user+sys | CPU-s per GiB | Lambda GB-s per GiB | peak RSS | invocations | verified |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rp.results {
		if r.Err != "" && r.Wall == 0 {
			fmt.Fprintf(&b, "| %s | %s | — | — | — | — | — | — | — | — | — | — | **failed**: %s |\n", r.Workload, r.Method, oneLine(r.Err, 200))
			continue
		}
		inv, gbs := "—", "—"
		if r.Method == "mirrorless" {
			inv = fmt.Sprint(r.Invocations)
			gbs = fmt.Sprintf("%.1f", r.gbSecondsPerGiB(o.lambdaMB))
		}
		ver := "complete, every record equal"
		if r.Verdict.Dups > 0 && r.Err == "" {
			ver = fmt.Sprintf("complete, %d duplicates", r.Verdict.Dups)
		}
		if r.Err != "" {
			ver = "**" + oneLine(r.Err, 200) + "**"
		}
		startup, copyRate := "—", "—" // not seen: the copy ended before the first poll answered
		if r.Startup > 0 {
			startup, copyRate = secs(r.Startup), fmt.Sprintf("%.1f", r.copyMBps())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f | %s | %.0f | %s | %.2f | %s | %s | %s | %s |\n",
			r.Workload, r.Method, secs(r.Wall), startup, r.mbps(), copyRate,
			float64(r.Records)/r.Wall.Seconds(), secs(r.CPU), r.cpuPerGiB(), gbs, mib(r.MaxRSS), inv, ver)
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- Lambda GB-s per GiB (mirrorless only): the Lambda cost model, memory x billed time: %d MB (template.yaml's `MirrorMemory` default; `-lambda-memory`) / 1024 x the summed wall of the invocations (each process from start to exit, outside Lambda), per GiB of key + value + headers copied.\n", o.lambdaMB)
	fmt.Fprintln(&b, "- MB/s and records/s are over the wall time, from starting the copier (process or JVM) until B holds every record; MB is 10^6 bytes of key + value + headers. \"First record after\" is when B's end offsets first moved (polled every 50 ms), so \"MB/s after first record\" leaves out start-up (for MM2: JVM start, Connect group, task start, topic creation).")
	fmt.Fprintln(&b, "- CPU and peak RSS are the copier's own. CPU: the pipe and each mirror invocation from wait4's rusage (mirrorless: summed over invocations); MM2 from /proc/<pid>/stat when the copy completed (all JVM threads), not counting shutdown. Peak RSS: VmHWM of /proc/<pid>/status, the pipe and each invocation sampled every 10 ms until exit (mirrorless: the largest invocation), MM2 when the copy completed. The brokers' CPU is in its own table below.")
	fmt.Fprintln(&b, "- Before the first workload, B ran one transaction and one group commit (not timed), so that its __transaction_state and __consumer_offsets exist, as on any cluster that has seen either; otherwise the first transactional or group-using copier pays for creating them.")
	fmt.Fprintln(&b, "- Verified: every target record read back (read_committed) and compared with the generated source record: key, value, both headers in order, timestamp; per partition no record missing, and for the exactly-once copies none duplicated or reordered.")
	for _, r := range rp.results {
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s %s: %s.\n", r.Workload, r.Method, n)
		}
		if r.Method == "mirrorless" && r.Err == "" && r.Invocations > 0 {
			fmt.Fprintf(&b, "- %s mirrorless: %d invocation(s), median %s each; one more invocation with nothing left to copy took %s (CPU %s) at this size.\n",
				r.Workload, r.Invocations, secs(median(r.InvWalls)), secs(r.IdleWall), secs(r.IdleCPU))
		}
		if strings.HasPrefix(r.Method, "mm2") && r.Err == "" && r.Startup > 0 {
			fmt.Fprintf(&b, "- %s %s: start-up (JVM to first record) %s and %s CPU; copy after that %s.\n",
				r.Workload, r.Method, secs(r.Startup), secs(r.StartupCPU), secs(r.Wall-r.Startup))
		}
	}

	rp.repeated(&b)
	rp.brokerTable(&b)
	rp.trickle(&b)

	for _, x := range []struct {
		st   *idleStats
		err  string
		from string
	}{{rp.idle, rp.idleErr, "W3's first topics, copied"}, {rp.idleBig, rp.idleBigErr, "workload idle10k: topics of 10 partitions, 1 record each, copied untimed"}} {
		if st := x.st; st != nil {
			fmt.Fprintf(&b, "\n### Idle invocation: %d partitions, nothing to copy (%d runs; %s)\n\n", st.Partitions, len(st.Runs), x.from)
			fmt.Fprintln(&b, "| run | wall | `duration_ms` | CPU user+sys | peak RSS | connections opened |")
			fmt.Fprintln(&b, "|---:|---:|---:|---:|---:|---|")
			for i, inv := range st.Runs {
				fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s |\n", i+1, secs(inv.Wall), inv.Sum.DurationMs, secs(inv.Use.CPU), mib(inv.Use.MaxRSS), connsCell(o, inv.Conns))
			}
			fmt.Fprintln(&b, "\nWall is the whole process (start, connect to both clusters, plan, exit); `duration_ms` is the program's own figure after connecting.")
		} else if x.err != "" {
			fmt.Fprintf(&b, "\nIdle invocation (%s): **failed**: %s\n", x.from, oneLine(x.err, 300))
		}
	}
	rp.latency(&b)
	if rp.idle != nil || rp.idleBig != nil {
		fmt.Fprintln(&b, "\n"+connsNote)
	}

	if len(rp.cold) > 0 || rp.coldErr != "" {
		fmt.Fprintln(&b, "\n### Cold start to the first produced record (100 records waiting, 1 partition)")
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "| mode | run | to first record on B | whole invocation |")
		fmt.Fprintln(&b, "|---|---:|---:|---:|")
		n := map[string]int{}
		for _, c := range rp.cold {
			n[c.Mode]++
			if c.Err != "" {
				fmt.Fprintf(&b, "| %s | %d | **failed**: %s | |\n", c.Mode, n[c.Mode], oneLine(c.Err, 200))
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", c.Mode, n[c.Mode], ms(c.ToFirst), ms(c.Total))
		}
		fmt.Fprintln(&b, "\n- process: from exec of the mirror program (outside Lambda) to the first copied record readable on B (read_uncommitted, i.e. produced, before its commit).")
		if o.rie != "" {
			fmt.Fprintln(&b, "- lambda-rie: a fresh AWS Lambda Runtime Interface Emulator with the mirror program as its bootstrap; from the invoke request (the emulator starts the bootstrap then: Lambda's init) to the first record on B.")
		} else {
			fmt.Fprintln(&b, "- The emulator was not available (-rie / BENCH_RIE unset), so only the process start is measured.")
		}
		if rp.coldErr != "" {
			fmt.Fprintf(&b, "- **failed**: %s\n", oneLine(rp.coldErr, 300))
		}
	}

	rp.targets(&b)
	rp.targets17(&b)

	if len(rp.settleNotes) > 0 {
		fmt.Fprintln(&b, "\n### Deleted topics not waited for")
		fmt.Fprintln(&b)
		said := map[string]bool{}
		for _, n := range rp.settleNotes {
			if !said[n] {
				said[n] = true
				fmt.Fprintf(&b, "- %s.\n", n)
			}
		}
	}

	fmt.Fprintln(&b, "\n### Machine")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- %s/%s, %d CPUs (%s), %s memory; %s; %s; Kafka %s (A %s, B %s), single-node KRaft brokers on the same machine.\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), memTotal(), command("go", "version"), javaVersion(o.java), envOr("KAFKA_VERSION", "4.1.1"), o.a, o.b)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min) before: %s, after: %s; run took %s.\n", rp.loadBefore, rp.loadAfter, time.Since(rp.started).Round(time.Second))
	if o.loadNote != "" {
		fmt.Fprintf(&b, "- %s\n", o.loadNote)
	}
	fmt.Fprintf(&b, "- MirrorMaker 2: dedicated mode, tasks.max=2, JVM %s; logs and properties in %s.\n", o.mm2Heap, o.work)
	return b.String()
}

// repeated lists every round of the repeated workloads, with mirrorless
// against the pipe round by round.
func (rp *report) repeated(b *strings.Builder) {
	if len(rp.rounds) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Every round (-repeat %d): MB/s, CPU-s per GiB, peak RSS\n\n", rp.opts.repeat)
	fmt.Fprintln(b, "| workload | round | first | pipe | mirrorless | mirrorless / pipe |")
	fmt.Fprintln(b, "|---|---:|---|---|---|---:|")
	type key struct {
		w     string
		round int
	}
	byKey := map[key]map[string]*result{}
	var keys []key
	first := map[key]string{}
	for _, r := range rp.rounds {
		k := key{r.Workload, r.Round}
		if byKey[k] == nil {
			byKey[k] = map[string]*result{}
			keys = append(keys, k)
			first[k] = r.Method
		}
		byKey[k][r.Method] = r
	}
	cell := func(r *result) string {
		if r == nil {
			return "—"
		}
		if r.Err != "" {
			return "**failed**"
		}
		return fmt.Sprintf("%.1f MB/s, %.2f, %s", r.mbps(), r.cpuPerGiB(), mib(r.MaxRSS))
	}
	for _, k := range keys {
		p, m := byKey[k]["pipe"], byKey[k]["mirrorless"]
		ratio := "—"
		if p != nil && m != nil && p.Err == "" && m.Err == "" {
			ratio = fmt.Sprintf("%.2fx", m.mbps()/p.mbps())
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", k.w, k.round, first[k], cell(p), cell(m), ratio)
	}
	fmt.Fprintln(b)
	var seen []string
	for _, k := range keys {
		if slices.Contains(seen, k.w) {
			continue
		}
		seen = append(seen, k.w)
		ps := rp.roundPairs(k.w)
		if len(ps) == 0 {
			continue
		}
		var each []string
		for _, p := range ps {
			each = append(each, fmt.Sprintf("%.2fx", p.ratio()))
		}
		rs := ratios(ps)
		fast := fastestPipe(ps)
		var which []string
		for _, p := range fast {
			which = append(which, fmt.Sprintf("round %d, pipe %.1f MB/s", p.round, p.pipe.mbps()))
		}
		fmt.Fprintf(b, "- %s, mirrorless / pipe round by round: %s; median %.2fx, spread %.2fx-%.2fx; in the pipe's fastest %d of %d rounds (%s): %.2fx.\n",
			k.w, strings.Join(each, ", "), median(rs), slices.Min(rs), slices.Max(rs), len(fast), len(ps), strings.Join(which, "; "), median(ratios(fast)))
	}
	fmt.Fprintln(b, "\nEach round copies the same records from a fresh source topic into fresh target topics, and once it is verified (unless -keep), its source and target topics are deleted and the bench waits until the brokers have let go of them (gone from the metadata, and their files gone from disk when the brokers' log directories are on this machine), so every round copies onto brokers holding the same data. The main table and issue 6's targets use each method's median round by MB/s; the ratios above are mirrorless against the pipe in the same round. \"The pipe's fastest rounds\": the third of the rounds (at least one) in which the pipe had the highest MB/s, the machine's quiet moments, where the ratio is lowest (issue 17: W1 >= 0.9x there). Round 1 runs every method in the order given; later rounds only the pipe and mirrorless, the first of the two alternating.")
}

// roundPair is one round of a repeated workload in which both the pipe and
// mirrorless copied successfully.
type roundPair struct {
	round    int
	pipe, ml *result
}

func (p roundPair) ratio() float64 { return p.ml.mbps() / p.pipe.mbps() }

// roundPairs are the rounds of workload w in which both copies succeeded,
// in round order.
func (rp *report) roundPairs(w string) []roundPair {
	by := map[int]*roundPair{}
	for _, r := range rp.rounds {
		if r.Workload != w || r.Err != "" {
			continue
		}
		if by[r.Round] == nil {
			by[r.Round] = &roundPair{round: r.Round}
		}
		switch r.Method {
		case "pipe":
			by[r.Round].pipe = r
		case "mirrorless":
			by[r.Round].ml = r
		}
	}
	var out []roundPair
	for _, p := range by {
		if p.pipe != nil && p.ml != nil {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b roundPair) int { return a.round - b.round })
	return out
}

// fastestPipe are the pairs in which the pipe ran fastest: the third of
// them (rounded up: 1 of 3, 2 of 5) with the highest pipe MB/s.
func fastestPipe(ps []roundPair) []roundPair {
	s := slices.Clone(ps)
	slices.SortStableFunc(s, func(a, b roundPair) int { return cmp.Compare(b.pipe.mbps(), a.pipe.mbps()) })
	return s[:(len(s)+2)/3]
}

func ratios(ps []roundPair) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.ratio()
	}
	return out
}

// roundRatios are mirrorless / pipe throughput of each round of workload w
// in which both copies succeeded.
func (rp *report) roundRatios(w string) []float64 { return ratios(rp.roundPairs(w)) }

// copies are every copy of the run, workload by workload, every round of
// the repeated ones.
func (rp *report) copies() []*result {
	var out []*result
	var done []string
	for _, r := range rp.results {
		if slices.Contains(done, r.Workload) {
			continue
		}
		done = append(done, r.Workload)
		n := len(out)
		for _, x := range rp.rounds {
			if x.Workload == r.Workload {
				out = append(out, x)
			}
		}
		if len(out) > n {
			continue
		}
		for _, x := range rp.results {
			if x.Workload == r.Workload {
				out = append(out, x)
			}
		}
	}
	return out
}

// brokerTable is the brokers' CPU and the connections of every copy.
func (rp *report) brokerTable(b *strings.Builder) {
	cs := rp.copies()
	measured := false
	for _, r := range cs {
		measured = measured || r.Brokers != nil || r.MaxConns != nil
	}
	if !measured {
		return
	}
	fmt.Fprintln(b, "\n### Brokers and connections, every copy")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "| workload | round | method | copier CPU-s per GiB | target broker (B) CPU-s per GiB | source broker (A) CPU-s per GiB | copier + both brokers CPU-s per GiB | most connections per process (A, B) |")
	fmt.Fprintln(b, "|---|---:|---|---:|---:|---:|---:|---|")
	for _, r := range cs {
		if r.Err != "" && r.Wall == 0 {
			continue
		}
		round := "—"
		if r.Round > 0 {
			round = fmt.Sprint(r.Round)
		}
		tgt, okB := r.brokerPerGiB(true)
		src, okA := r.brokerPerGiB(false)
		cell := func(v float64, ok bool) string {
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.2f", v)
		}
		total := "—"
		if okA && okB {
			total = fmt.Sprintf("%.2f", r.cpuPerGiB()+tgt+src)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.2f | %s | %s | %s | %s |\n", r.Workload, round, r.Method, r.cpuPerGiB(), cell(tgt, okB), cell(src, okA), total, connsCell(rp.opts, r.MaxConns))
	}
	fmt.Fprintln(b, "\n- Broker CPU: user+sys of each broker's JVM (all threads, /proc/<pid>/stat utime+stime) from the start of the copier until the copy was complete (the same window as the wall time), per GiB copied. On this machine the brokers share the cores with the copier, so their CPU is copy time too. It includes the bench's own look at B during the copy (end offsets every 50 ms; for MM2, reading the last records back), and for MM2 its start-up (internal topics, Connect group). The pid comes from scripts/kafka-pair.sh's pid file ($KAFKA_PAIR_DIR/<A or B>/pid) when that process holds the listening socket, else from the process that does; \"—\" when the broker is not a process on this machine that this user can read.")
	fmt.Fprintln(b, "- Most connections per process: the pipe's one process; for mirrorless the invocation that opened the most, per broker (issue 17's target: at most 4 per broker per invocation). MM2's are not counted. "+connsNote)
}

// targets compares W1 with issue 6's targets.
func (rp *report) targets(b *strings.Builder) {
	ml, pipe, mm2, eos := rp.find("w1", "mirrorless"), rp.find("w1", "pipe"), rp.find("w1", "mm2"), rp.find("w1", "mm2-eos")
	if ml == nil {
		return
	}
	fmt.Fprintln(b, "\n### Against issue 6's targets (W1 unless said otherwise)")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "| target | measured | met |")
	fmt.Fprintln(b, "|---|---|---|")
	ratio := func(name string, got, want float64, higher bool) {
		met := got >= want
		if !higher {
			met = got <= want
		}
		fmt.Fprintf(b, "| %s | %.2fx | %s |\n", name, got, yes(met))
	}
	if mm2 != nil {
		ratio("throughput >= 1.5x MM2 at-least-once", ml.mbps()/mm2.mbps(), 1.5, true)
	}
	if eos != nil {
		ratio("throughput >= 2x MM2 exactly-once", ml.mbps()/eos.mbps(), 2, true)
	}
	if pipe != nil {
		name := "throughput >= 0.8x the raw pipe"
		if rs := rp.roundRatios("w1"); len(rs) > 1 {
			name += " (median rounds)"
			ratio(fmt.Sprintf("throughput >= 0.8x the raw pipe, round by round (median of %d rounds' ratios)", len(rs)), median(rs), 0.8, true)
		}
		ratio(name, ml.mbps()/pipe.mbps(), 0.8, true)
	}
	if mm2 != nil {
		ratio("CPU-s per GiB <= 0.5x MM2 at-least-once", ml.cpuPerGiB()/mm2.cpuPerGiB(), 0.5, false)
	}
	if eos != nil {
		ratio("CPU-s per GiB <= 0.5x MM2 exactly-once", ml.cpuPerGiB()/eos.cpuPerGiB(), 0.5, false)
	}
	peak := int64(0)
	for _, r := range append(slices.Clone(rp.results), rp.rounds...) {
		if r.Method == "mirrorless" && r.Err == "" {
			peak = max(peak, r.MaxRSS)
		}
	}
	fmt.Fprintf(b, "| peak RSS <= 200 MiB at default settings (largest over all workloads and rounds) | %s | %s |\n", mib(peak), yes(peak <= 200<<20))
	if rp.idle != nil {
		m := median(walls(rp.idle.Runs))
		fmt.Fprintf(b, "| idle invocation over %d partitions <= 250 ms wall (median) | %s | %s |\n", rp.idle.Partitions, ms(m), yes(m <= 250*time.Millisecond))
	}
	for _, mode := range []string{"lambda-rie", "process"} {
		var ds []time.Duration
		for _, c := range rp.cold {
			if c.Mode == mode && c.Err == "" {
				ds = append(ds, c.ToFirst)
			}
		}
		if len(ds) > 0 {
			m := median(ds)
			fmt.Fprintf(b, "| cold start to first produced record <= 1 s (%s, median) | %s | %s |\n", mode, ms(m), yes(m <= time.Second))
		}
	}
}

// targets17 are issue 17's targets that the bench measures, against this
// run (the baselines of the rebuild of core/mirror).
func (rp *report) targets17(b *strings.Builder) {
	var rows [][3]string
	if ml, pipe := rp.find("w3", "mirrorless"), rp.find("w3", "pipe"); ml != nil && pipe != nil {
		r := ml.mbps() / pipe.mbps()
		rows = append(rows, [3]string{"W3 throughput >= 0.8x the raw pipe", fmt.Sprintf("%.2fx", r), yes(r >= 0.8)})
		c := ml.cpuPerGiB() / pipe.cpuPerGiB()
		rows = append(rows, [3]string{"W3 CPU-s per GiB <= 1.5x the pipe's", fmt.Sprintf("%.2fx", c), yes(c <= 1.5)})
	}
	if ps := rp.roundPairs("w1"); len(ps) > 0 {
		fast := fastestPipe(ps)
		r := median(ratios(fast))
		var which []string
		for _, p := range fast {
			which = append(which, fmt.Sprint(p.round))
		}
		rows = append(rows, [3]string{fmt.Sprintf("W1 throughput >= 0.9x the raw pipe in the pipe's fastest rounds (%d of %d: round %s; median of their ratios)", len(fast), len(ps), strings.Join(which, ", ")), fmt.Sprintf("%.2fx", r), yes(r >= 0.9)})
	}
	if t := rp.find("t1", "mirrorless"); t != nil && t.First != nil {
		f := t.First
		rows = append(rows,
			[3]string{"T1: one invocation at default settings copies every partition", fmt.Sprintf("%d of %d", f.PartitionsWritten, f.Partitions), yes(f.PartitionsWritten == f.Partitions)},
			[3]string{"T1: at most 1 CPU-s", secs(f.CPU), yes(f.CPU <= time.Second)},
			[3]string{"T1: at most 200 MiB peak RSS", mib(f.MaxRSS), yes(f.MaxRSS <= 200<<20)})
		most := 0
		for _, n := range f.Conns {
			most = max(most, n)
		}
		rows = append(rows, [3]string{"T1: at most 4 connections per broker per invocation (the first invocation)", connsCell(rp.opts, f.Conns), yes(most <= 4)})
	}
	for _, w := range []string{"t1", "w1", "w3"} {
		// The most any invocation of the workload opened, over every round.
		var peak map[string]int
		n := 0
		for _, r := range rp.copies() {
			if r.Workload != w || r.Method != "mirrorless" || r.Err != "" || r.MaxConns == nil {
				continue
			}
			n += r.Invocations
			if peak == nil {
				peak = map[string]int{}
			}
			for a, c := range r.MaxConns {
				peak[a] = max(peak[a], c)
			}
		}
		if peak == nil {
			continue
		}
		most := 0
		for _, c := range peak {
			most = max(most, c)
		}
		rows = append(rows, [3]string{fmt.Sprintf("%s: at most 4 connections per broker per invocation (the most of its %d invocations)", strings.ToUpper(w), n), connsCell(rp.opts, peak), yes(most <= 4)})
	}
	if rp.idleBig != nil {
		m := median(walls(rp.idleBig.Runs))
		rows = append(rows, [3]string{fmt.Sprintf("idle invocation over %d partitions <= 500 ms wall (median)", rp.idleBig.Partitions), ms(m), yes(m <= 500*time.Millisecond)})
	}
	for _, st := range rp.lat {
		switch st.Mode {
		case "batch":
			rows = append(rows, [3]string{fmt.Sprintf("batch mode: p99 end-to-end latency <= the schedule interval + 5 s (%s)", st.Schedule+5*time.Second), ms(st.P99), yes(st.P99 <= st.Schedule+5*time.Second)})
		case "tail":
			rows = append(rows, [3]string{"tail mode: p99 end-to-end latency <= 1 s", ms(st.P99), yes(st.P99 <= time.Second)})
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(b, "\n### Against issue 17's targets")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "| target | measured | met |")
	fmt.Fprintln(b, "|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s |\n", r[0], r[1], r[2])
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return name + " (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

func javaVersion(java string) string {
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return "java (version unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
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

// connsNote says how connections are counted.
const connsNote = "Connections opened: TCP connections the mirror process opened to each broker (A and B are one broker each; a client's bootstrap connection counts too), counted by sampling the process's sockets every 10 ms (/proc/<pid>/fd, each new socket looked up once in /proc/<pid>/net/tcp by inode): a connection opened and closed within one sample is missed, so it is a lower bound."

// trickle is T1: what the first mirror invocation at default settings did
// with 1,000 topics x 2 partitions x 10 records waiting.
func (rp *report) trickle(b *strings.Builder) {
	r := rp.find("t1", "mirrorless")
	if r == nil || r.First == nil {
		return
	}
	f := r.First
	fmt.Fprintf(b, "\n### T1: one invocation at default settings over %d trickling partitions (10 records each)\n\n", f.Partitions)
	fmt.Fprintln(b, "| partitions | written by the first invocation | units claimed | records copied | lag left | wall | CPU user+sys | peak RSS | connections opened | invocations to copy all | all of them: wall, CPU, largest peak RSS, most connections |")
	fmt.Fprintln(b, "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
	var sum time.Duration
	for _, d := range r.InvWalls {
		sum += d
	}
	fmt.Fprintf(b, "| %d | %d | %d | %d | %d | %s | %s | %s | %s | %d | %s, %s, %s, %s |\n",
		f.Partitions, f.PartitionsWritten, f.Units, f.Records, f.LagLeft, secs(f.Wall), secs(f.CPU), mib(f.MaxRSS), connsCell(rp.opts, f.Conns),
		r.Invocations, secs(sum), secs(r.CPU), mib(r.MaxRSS), connsCell(rp.opts, r.MaxConns))
	fmt.Fprintln(b, "\n\"Written by the first invocation\": target partitions whose end offset was above 0 after it. The invocations after the first ran back to back, at default settings, until nothing was left; the copy was then verified as in the main table. "+connsNote)
}

// latency is the lat workload's table: batch mode and tail mode.
func (rp *report) latency(b *strings.Builder) {
	if len(rp.lat) == 0 && len(rp.latErrs) == 0 {
		return
	}
	o := rp.opts
	fmt.Fprintf(b, "\n### End-to-end latency: %.1f MB/s over 100 partitions, an invocation every %s\n\n", o.latencyMBps, o.latencySchedule)
	fmt.Fprintln(b, "| mode | mirror settings | produced for | records | invocations | p50 | p99 | max | invocations' wall (summed) | CPU user+sys | Lambda GB-s per GiB |")
	fmt.Fprintln(b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, st := range rp.lat {
		env := "defaults"
		if len(st.Env) > 0 {
			env = "`" + strings.Join(st.Env, " ") + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %.1f |\n", st.Mode, env, secs(st.Duration), st.Seen, st.Invocations,
			ms(st.P50), ms(st.P99), ms(st.Max), secs(st.InvWalls), secs(st.CPU), st.gbSecondsPerGiB(o.lambdaMB))
	}
	for _, e := range rp.latErrs {
		fmt.Fprintf(b, "| **failed** | %s | | | | | | | | | |\n", oneLine(e, 300))
	}
	fmt.Fprintf(b, "\nLatency: from handing the record to the producer on A (its timestamp, which the mirror keeps) until a read_committed consumer on B (fetch wait 50 ms) read it; every record was read once. Each invocation starts the schedule interval after the previous one started, or when it ends if it ran longer. Batch mode: default settings, an invocation exits once caught up. Tail mode: `MIRROR_TAIL=true` keeps an invocation that has caught up copying until its budget ends, less the safety margin; with the default budget (`-latency-tail-budget`: the interval plus the margin) one invocation covers each interval and the next starts when it ends, with a budget of the interval itself (a deployment whose timeout is its interval) records arriving in each interval's last margin wait for the next invocation. Lambda GB-s per GiB: %d MB / 1024 x the invocations' summed wall, per GiB produced (key + value + headers): what each mode costs for this trickle.\n", o.lambdaMB)
}
