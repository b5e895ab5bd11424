package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// brokers is what the bench knows of the two brokers' processes and disks
// when they run on this machine: the JVM of each (for the CPU it spends
// during a copy) and its log directories (to wait until a deleted topic's
// files are gone). Index 0 is A (the source), 1 is B (the target).
type brokers struct {
	pid   [2]int    // 0: not found on this machine
	how   [2]string // how the pid was found, or why not
	dirs  [2][]string
	delay [2]time.Duration // log.segment.delete.delay.ms; -1: unknown
}

// brokerCPU is the CPU (user+sys, all threads) the broker JVMs spent
// during one copy; -1 for a broker whose process was not found.
type brokerCPU struct {
	A, B time.Duration
}

// findBrokers locates both brokers: the JVM by its client port
// (brokerPid), the log directories and the file deletion delay from the
// broker's own configuration.
func findBrokers(ctx context.Context, o *options, admA, admB *kadm.Client) *brokers {
	bs := &brokers{}
	for i, x := range []struct {
		name, addr string
		adm        *kadm.Client
	}{{"A", o.a, admA}, {"B", o.b, admB}} {
		bs.pid[i], bs.how[i] = brokerPid(x.addr, x.name)
		bs.dirs[i], bs.delay[i] = brokerDirs(ctx, x.adm)
	}
	return bs
}

// sample is the CPU both broker JVMs have used so far (-1: unknown).
func (bs *brokers) sample() [2]time.Duration {
	out := [2]time.Duration{-1, -1}
	if bs == nil {
		return out
	}
	for i, pid := range bs.pid {
		if pid == 0 {
			continue
		}
		if u, err := procUsage(pid); err == nil {
			out[i] = u.CPU
		}
	}
	return out
}

// since is the CPU each broker used from the sample start until now; nil
// when neither broker's process is known.
func (bs *brokers) since(start [2]time.Duration) *brokerCPU {
	end := bs.sample()
	var d [2]time.Duration
	known := false
	for i := range d {
		d[i] = -1
		if start[i] >= 0 && end[i] >= 0 {
			d[i] = end[i] - start[i]
			known = true
		}
	}
	if !known {
		return nil
	}
	return &brokerCPU{A: d[0], B: d[1]}
}

// brokerPid finds the process listening on addr's port on this machine:
// first the pid file of scripts/kafka-pair.sh ($KAFKA_PAIR_DIR/<name>/pid,
// which bench.sh exports), accepted only if that process holds the
// listening socket; otherwise every process whose sockets this user may
// read is searched for it. It returns 0 and the reason when there is none
// (a broker elsewhere, in a container, or another user's).
func brokerPid(addr, name string) (int, string) {
	_, port, ok := strings.Cut(addr, ":")
	p, err := strconv.Atoi(port)
	if !ok || err != nil {
		return 0, fmt.Sprintf("%q has no port", addr)
	}
	inodes := listeningInodes(p)
	if len(inodes) == 0 {
		return 0, fmt.Sprintf("nothing listens on port %d on this machine", p)
	}
	if dir := os.Getenv("KAFKA_PAIR_DIR"); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, name, "pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && holdsSocket(pid, inodes) {
				return pid, "pid file " + filepath.Join(dir, name, "pid")
			}
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err.Error()
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if holdsSocket(pid, inodes) {
			return pid, fmt.Sprintf("the process listening on port %d", p)
		}
	}
	return 0, fmt.Sprintf("the process listening on port %d is not readable by this user", p)
}

// listeningInodes are the socket inodes of TCP listeners on port (any
// local address) in this network namespace.
func listeningInodes(port int) map[uint64]bool {
	out := map[uint64]bool{}
	suffix := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" || !strings.HasSuffix(fs[1], suffix) { // 0A: LISTEN
				continue
			}
			if ino, err := strconv.ParseUint(fs[9], 10, 64); err == nil && ino != 0 {
				out[ino] = true
			}
		}
	}
	return out
}

// holdsSocket says whether process pid has one of the socket inodes open.
func holdsSocket(pid int, inodes map[uint64]bool) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil && inodes[ino] {
				return true
			}
		}
	}
	return false
}

// brokerDirs reads the log directories and log.segment.delete.delay.ms
// of the cluster's brokers (delay -1 when it cannot be read), keeping the
// directories that exist on this machine.
func brokerDirs(ctx context.Context, adm *kadm.Client) ([]string, time.Duration) {
	delay := time.Duration(-1)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, delay
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx, md.Brokers.NodeIDs()...)
	if err != nil {
		return nil, delay
	}
	var dirs []string
	for _, rc := range rcs {
		val := map[string]string{}
		for _, c := range rc.Configs {
			val[c.Key] = c.MaybeValue()
		}
		if ms, err := strconv.ParseInt(val["log.segment.delete.delay.ms"], 10, 64); err == nil {
			delay = max(delay, time.Duration(ms)*time.Millisecond)
		}
		list := val["log.dirs"]
		if list == "" {
			list = val["log.dir"]
		}
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs, delay
}

// partitionDirsLeft counts the directories in dirs that hold a partition
// of one of the topics: <topic>-<partition>, or once deleted
// <topic>-<partition>.<id>-delete until the broker removes it.
func partitionDirsLeft(dirs []string, topics []string) int {
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	n := 0
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if t, ok := partitionDirTopic(e.Name()); ok && want[t] {
				n++
			}
		}
	}
	return n
}

// partitionDirTopic is the topic of a partition directory's name, as the
// broker names it: <topic>-<partition>, with ".<id>-delete" (deleted,
// waiting for removal), "-future" or "-stray" after it.
func partitionDirTopic(name string) (string, bool) {
	base := name
	if i := strings.LastIndexByte(base, '.'); i > 0 && (strings.HasSuffix(base, "-delete") || strings.HasSuffix(base, "-stray") || strings.HasSuffix(base, "-future")) {
		base = base[:i]
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 || i == len(base)-1 {
		return "", false
	}
	if _, err := strconv.ParseUint(base[i+1:], 10, 31); err != nil {
		return "", false
	}
	return base[:i], true
}

// dropTopics deletes topics on a cluster (0: A, 1: B) and waits until the
// broker has let go of them: gone from the metadata (deleteTopics), then,
// when its log directories are on this machine, their partition
// directories gone from disk. The broker removes those
// log.segment.delete.delay.ms after the deletion (60 s by default;
// bench.sh's own pair sets 0): with a longer delay than -settle it does
// not wait and says so in the returned note, since the files would then
// be removed while the next copy runs.
func dropTopics(ctx context.Context, o *options, adm *kadm.Client, cluster int, topics []string) (note string, err error) {
	name := [2]string{"A", "B"}[cluster]
	if err := deleteTopics(ctx, adm, name, topics); err != nil {
		return "", err
	}
	bs := o.brokers
	if bs == nil || len(bs.dirs[cluster]) == 0 {
		return "", nil
	}
	if d := bs.delay[cluster]; d < 0 || d > o.settle {
		return fmt.Sprintf("%s's log.segment.delete.delay.ms is %s (longer than -settle %s or unknown): deleted topics' files were not waited for", name, d, o.settle), nil
	}
	t0 := time.Now()
	deadline := t0.Add(o.settle + 5*time.Second)
	for {
		left := partitionDirsLeft(bs.dirs[cluster], topics)
		if left == 0 {
			return "", nil
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%s still had %d partition directories of deleted topics on disk %s after their deletion", name, left, secs(time.Since(t0))), nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
}
