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

// runSampled starts cmd and waits for it, sampling the child's own peak
// RSS (VmHWM of /proc/<pid>/status, a high-water mark of its address space
// after exec) every 10 ms; the last sample before exit is what it returns.
func runSampled(cmd *exec.Cmd) (maxRSS int64, err error) {
	if err := cmd.Start(); err != nil {
		return 0, err
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
	return <-got, err
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
