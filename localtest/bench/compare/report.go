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
	fmt.Fprintln(&b, "| workload | method | wall | first record after | MB/s | MB/s after first record | records/s | CPU user+sys | CPU-s per GiB | peak RSS | invocations | verified |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rp.results {
		if r.Err != "" && r.Wall == 0 {
			fmt.Fprintf(&b, "| %s | %s | — | — | — | — | — | — | — | — | — | **failed**: %s |\n", r.Workload, r.Method, oneLine(r.Err, 200))
			continue
		}
		inv := "—"
		if r.Method == "mirrorless" {
			inv = fmt.Sprint(r.Invocations)
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
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f | %s | %.0f | %s | %.2f | %s | %s | %s |\n",
			r.Workload, r.Method, secs(r.Wall), startup, r.mbps(), copyRate,
			float64(r.Records)/r.Wall.Seconds(), secs(r.CPU), r.cpuPerGiB(), mib(r.MaxRSS), inv, ver)
	}
	fmt.Fprintln(&b)
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

	if rp.idle != nil {
		st := rp.idle
		fmt.Fprintf(&b, "\n### Idle invocation: %d partitions, nothing to copy (%d runs)\n\n", st.Partitions, len(st.Runs))
		fmt.Fprintln(&b, "| run | wall | `duration_ms` | CPU user+sys | peak RSS |")
		fmt.Fprintln(&b, "|---:|---:|---:|---:|---:|")
		for i, inv := range st.Runs {
			fmt.Fprintf(&b, "| %d | %s | %d | %s | %s |\n", i+1, secs(inv.Wall), inv.Sum.DurationMs, secs(inv.Use.CPU), mib(inv.Use.MaxRSS))
		}
		fmt.Fprintln(&b, "\nWall is the whole process (start, connect to both clusters, plan, exit); `duration_ms` is the program's own figure after connecting.")
	} else if rp.idleErr != "" {
		fmt.Fprintf(&b, "\nIdle invocation: **failed**: %s\n", oneLine(rp.idleErr, 300))
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
