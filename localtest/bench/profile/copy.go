//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
)

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
		invs    []programRun
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
func (b *bench) inproc(ctx context.Context, props string) ([]programRun, int64, int64, error) {
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
	var invs []programRun
	var records, bytesN int64
	for i := 0; i < b.o.maxInvocations; i++ {
		var r0, r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		sum, err := a.Mirror(ctx, invocation.NewOwner(""))
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		if err != nil {
			return invs, records, bytesN, err
		}
		inv := programRun{wall: time.Since(t0), sum: *sum, maxRSS: r1.Maxrss * 1024,
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
