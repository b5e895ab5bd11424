package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// usage is what one copier process (or a sequence of them) cost.
type usage struct {
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes, peak resident set
}

// rusage reads a finished child's user+sys CPU (wait4's rusage, which Go
// keeps in ProcessState). Its ru_maxrss is not used: Go starts children
// with vfork, and Linux folds the high-water RSS of the memory the child
// ran on before exec, this (large) bench process's, into the child's
// ru_maxrss. Peak RSS comes from sampleRSS instead.
func rusage(cmd *exec.Cmd) usage {
	st := cmd.ProcessState
	if st == nil {
		return usage{}
	}
	return usage{CPU: st.UserTime() + st.SystemTime()}
}

// runTracked starts cmd and waits for it, sampling the child's own peak
// RSS (VmHWM of /proc/<pid>/status, a high-water mark of its address space
// after exec) every 10 ms; the last sample before exit is what it returns.
// It also counts, per address of addrs, the TCP connections the child
// opened to it (connTracker; nil for no addresses).
func runTracked(cmd *exec.Cmd, addrs []string) (maxRSS int64, conns map[string]int, err error) {
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	var ct *connTracker
	if len(addrs) > 0 {
		ct = newConnTracker(cmd.Process.Pid, addrs)
	}
	stop := make(chan struct{})
	got := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := vmHWM(cmd.Process.Pid); v > peak {
				peak = v
			}
			if ct != nil {
				ct.sample()
			}
			select {
			case <-stop:
				got <- peak
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	maxRSS = <-got
	if ct != nil {
		conns = ct.counts
	}
	return maxRSS, conns, err
}

// vmHWM is a live process's peak RSS in bytes, or 0.
func vmHWM(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux this runs on (sysconf(_SC_CLK_TCK) needs cgo).
const clockTick = 100

// procUsage reads a running process's CPU so far and its peak RSS from
// /proc (all threads included).
func procUsage(pid int) (usage, error) {
	var u usage
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return u, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return u, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15 stime
	u.CPU = time.Duration(ut+st) * time.Second / clockTick
	u.MaxRSS = vmHWM(pid)
	return u, nil
}

// childEnv is this process's environment without MIRROR_* settings and
// without the Lambda runtime variable, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MIRROR_") || strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// connTracker counts the TCP connections a child process opens to each of
// a set of addresses (the brokers), by sampling: every socket the child
// holds (an inode under /proc/<pid>/fd) is looked up once in the network
// namespace's /proc/<pid>/net/tcp and tcp6 by its inode, and a connection
// is counted the first time its socket is seen. A socket opened and closed
// between two samples (10 ms apart) is missed, so the counts are a lower
// bound; the mirror keeps its connections for the whole invocation.
type connTracker struct {
	pid    int
	want   map[string]string // "IP:port" in /proc's hex form -> address as given
	seen   map[uint64]bool   // socket inodes already classified
	counts map[string]int    // address as given -> connections seen
}

func newConnTracker(pid int, addrs []string) *connTracker {
	t := &connTracker{pid: pid, want: map[string]string{}, seen: map[uint64]bool{}, counts: map[string]int{}}
	for _, a := range addrs {
		if h := procHexAddr(a); h != "" {
			t.want[h] = a
		}
	}
	return t
}

// procHexAddr is an IPv4 host:port as /proc/net/tcp prints a remote
// address (little-endian hex address, hex port), or "" for anything else.
func procHexAddr(hostport string) string {
	host, port, ok := strings.Cut(hostport, ":")
	if !ok {
		return ""
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := strings.Split(host, ".")
	p, err := strconv.Atoi(port)
	if len(ip) != 4 || err != nil {
		return ""
	}
	var b [4]int
	for i, s := range ip {
		if b[i], err = strconv.Atoi(s); err != nil {
			return ""
		}
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], p)
}

// sample classifies the sockets the process holds that were not seen before.
func (t *connTracker) sample() {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", t.pid))
	if err != nil {
		return
	}
	fresh := map[uint64]bool{}
	for _, e := range ents {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", t.pid, e.Name()))
		if err != nil {
			continue
		}
		s, ok := strings.CutPrefix(l, "socket:[")
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
		if err == nil && !t.seen[ino] {
			fresh[ino] = true
		}
	}
	if len(fresh) == 0 {
		return
	}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", t.pid, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 {
				continue
			}
			ino, err := strconv.ParseUint(fs[9], 10, 64)
			if err != nil || !fresh[ino] {
				continue
			}
			rem := fs[2]
			if len(rem) == 37 && strings.HasPrefix(rem, "0000000000000000FFFF0000") { // IPv4-mapped in tcp6
				rem = rem[24:]
			}
			if a, ok := t.want[rem]; ok {
				t.counts[a]++
			}
			t.seen[ino] = true
			delete(fresh, ino)
		}
	}
	// A socket not (yet) in either table, e.g. still connecting without a
	// peer, is looked up again at the next sample.
}
