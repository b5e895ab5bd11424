//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// idle measures invocations with nothing to copy over many partitions.
func (b *bench) idle(ctx context.Context) error {
	prefix := "prof-idle-" + b.stamp
	names := make([]string, b.o.idleTopics)
	remotes := make([]string, len(names))
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
		remotes[i] = "A." + names[i]
	}
	parts := int32(b.o.idlePartitions)
	if err := b.createTopics(ctx, names, parts); err != nil {
		return err
	}
	if err := b.seed(ctx, names, parts, len(names)*int(parts), 100); err != nil {
		return err
	}
	props, err := b.properties(prefix, prefix)
	if err != nil {
		return err
	}
	if err := b.reconcile(ctx, props, remotes, int(parts)); err != nil {
		return err
	}
	// Copy everything, then run until an invocation claims nothing.
	for i := 0; ; i++ {
		inv, err := b.invoke(ctx, props)
		if err != nil {
			return err
		}
		logf("idle setup run %d: %d records, %d units claimed, lag left %d, %s", i+1, inv.sum.Records, inv.sum.UnitsClaimed, inv.sum.LagLeft, inv.wall.Round(time.Millisecond))
		if inv.sum.LagLeft == 0 && inv.sum.UnitsClaimed == 0 {
			break
		}
		if i == 50 {
			return errors.New("idle: setup did not settle in 50 invocations")
		}
	}
	fmt.Fprintf(&b.report, "### idle invocation: %d topics x %d partitions = %d partitions, nothing to copy\n\n", len(names), parts, len(names)*int(parts))
	fmt.Fprintf(&b.report, "| run | process wall | `duration_ms` | CPU user+sys | peak RSS | units claimed |\n|---:|---:|---:|---:|---:|---:|\n")
	for i := 0; i < b.o.idleRuns; i++ {
		inv, err := b.invoke(ctx, props)
		if err != nil {
			return err
		}
		if inv.sum.Records != 0 {
			return fmt.Errorf("idle run copied %d records", inv.sum.Records)
		}
		fmt.Fprintf(&b.report, "| %d | %d ms | %d | %d ms | %s | %d |\n", i+1, inv.wall.Milliseconds(), inv.sum.DurationMs, inv.cpu.Milliseconds(), mib(inv.maxRSS), inv.sum.UnitsClaimed)
	}
	b.report.WriteString("\n")
	return nil
}
