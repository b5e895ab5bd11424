package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is what one copier process (or a sequence of them) cost.
type usage struct {
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes, peak resident set
}

// rusage reads a finished child's user+sys CPU and peak RSS (wait4's
// rusage, which Go keeps in ProcessState).
func rusage(cmd *exec.Cmd) usage {
	st := cmd.ProcessState
	if st == nil {
		return usage{}
	}
	u := usage{CPU: st.UserTime() + st.SystemTime()}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	return u
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
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.MaxRSS = kb * 1024
		}
	}
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
