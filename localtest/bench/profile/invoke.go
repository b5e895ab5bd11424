//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
)

// programRun is one mirror invocation, as a program or in process.
type programRun struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64
	sum    invocation.MirrorSummary
	exit   int
	stderr string
}

func (b *bench) invoke(ctx context.Context, props string) (programRun, error) {
	bin, err := b.mirrorBin(ctx)
	if err != nil {
		return programRun{}, err
	}
	ictx, cancel := context.WithTimeout(ctx, b.o.invocationLimit)
	defer cancel()
	cmd := exec.CommandContext(ictx, bin)
	cmd.Env = b.settingsEnv(props)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return programRun{}, err
	}
	hwm := sampleHWM(cmd.Process.Pid)
	err = cmd.Wait()
	inv := programRun{wall: time.Since(t0), stderr: errb.String(), maxRSS: hwm()}
	b.logs++
	_ = os.WriteFile(filepath.Join(b.o.work, fmt.Sprintf("mirror-%s-%03d.log", b.stamp, b.logs)), errb.Bytes(), 0o644)
	if cmd.ProcessState != nil {
		inv.exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			inv.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if jerr := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &inv.sum); jerr != nil {
		return inv, fmt.Errorf("mirror exit %v: summary %q: %v; stderr: %s", err, out.String(), jerr, tail(inv.stderr))
	}
	if err != nil {
		return inv, fmt.Errorf("mirror: %v: %s", err, tail(inv.stderr))
	}
	return inv, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
