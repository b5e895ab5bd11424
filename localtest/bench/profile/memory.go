//go:build unix

package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

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
