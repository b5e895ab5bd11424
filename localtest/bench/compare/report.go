package main

import (
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
	lat                   *latencyStats // workload lat
	latErr                string
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
	fmt.Fprintln(&b, "- CPU and peak RSS are the copier's own. CPU: the pipe and each mirror invocation from wait4's rusage (mirrorless: summed over invocations); MM2 from /proc/<pid>/stat when the copy completed (all JVM threads), not counting shutdown. Peak RSS: VmHWM of /proc/<pid>/status, the pipe and each invocation sampled every 10 ms until exit (mirrorless: the largest invocation), MM2 when the copy completed. Brokers are not counted.")
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
	if st := rp.lat; st != nil {
		fmt.Fprintf(&b, "\n### End-to-end latency: %.1f MB/s over %d partitions, batch mode, an invocation every %s\n\n", st.MBps, st.Partitions, st.Schedule)
		fmt.Fprintln(&b, "| produced for | records | invocations | p50 | p99 | max |")
		fmt.Fprintln(&b, "|---:|---:|---:|---:|---:|---:|")
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s |\n", secs(st.Duration), st.Seen, st.Invocations, ms(st.P50), ms(st.P99), ms(st.Max))
		fmt.Fprintln(&b, "\nLatency: from handing the record to the producer on A (its timestamp, which the mirror keeps) until a read_committed consumer on B (fetch wait 50 ms) read it. The mirror runs at default settings, each invocation starting the schedule interval after the previous one started. Every record was read once.")
	} else if rp.latErr != "" {
		fmt.Fprintf(&b, "\nEnd-to-end latency: **failed**: %s\n", oneLine(rp.latErr, 300))
	}
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
	fmt.Fprintln(b, "\nEach round copies the same records from a fresh source topic into fresh target topics; the main table and the targets use each method's median round by MB/s. Round 1 runs every method in the order given; later rounds only the pipe and mirrorless, the first of the two alternating.")
}

// roundRatios are mirrorless / pipe throughput of each round of workload w
// in which both copies succeeded.
func (rp *report) roundRatios(w string) []float64 {
	by := map[int]map[string]*result{}
	for _, r := range rp.rounds {
		if r.Workload == w && r.Err == "" {
			if by[r.Round] == nil {
				by[r.Round] = map[string]*result{}
			}
			by[r.Round][r.Method] = r
		}
	}
	var out []float64
	for _, m := range by {
		if p, ml := m["pipe"], m["mirrorless"]; p != nil && ml != nil {
			out = append(out, ml.mbps()/p.mbps())
		}
	}
	return out
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
		rows = append(rows, [3]string{"T1: at most 4 connections per broker per invocation", connsCell(rp.opts, f.Conns), yes(most <= 4)})
	}
	if rp.idleBig != nil {
		m := median(walls(rp.idleBig.Runs))
		rows = append(rows, [3]string{fmt.Sprintf("idle invocation over %d partitions <= 500 ms wall (median)", rp.idleBig.Partitions), ms(m), yes(m <= 500*time.Millisecond)})
	}
	if st := rp.lat; st != nil {
		rows = append(rows, [3]string{fmt.Sprintf("batch mode: p99 end-to-end latency <= the schedule interval + 5 s (%s)", st.Schedule+5*time.Second), ms(st.P99), yes(st.P99 <= st.Schedule+5*time.Second)})
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
