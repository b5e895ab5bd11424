// Package e2e drives the built function programs as a user (or Lambda's
// outside-Lambda contract) does: environment in, one invocation, a JSON
// summary out, an exit code. Tests here need the real Kafka pair.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

var binDir string

func TestMain(m *testing.M) { os.Exit(kafkatest.MainWithFunctions(m, &binDir)) }

// run is one program invocation's outcome.
type run struct {
	code     int
	stdout   string
	stderr   string
	killed   bool
	duration time.Duration
}

func (r run) summary(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	line := strings.TrimSpace(r.stdout)
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("summary is not one JSON line: %q (stderr %q)", r.stdout, r.stderr)
	}
	return m
}

func env(props string, extra ...string) []string {
	e := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MIRROR_PROPERTIES_FILE=" + props, "MIRROR_TIME_BUDGET=60s", "MIRROR_SAFETY_MARGIN=3s"}
	return append(e, extra...)
}

// start launches a program; wait collects it.
func start(t testing.TB, fn string, environ []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, fn), args...)
	cmd.Env = environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

func wait(cmd *exec.Cmd, out, errb *bytes.Buffer, began time.Time) run {
	err := cmd.Wait()
	r := run{stdout: out.String(), stderr: errb.String(), duration: time.Since(began)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = true
		}
	}
	return r
}

// invoke runs a program (with args, for an operator command) to
// completion (bounded by a minute and a half).
func invoke(t testing.TB, fn string, environ []string, args ...string) run {
	t.Helper()
	began := time.Now()
	cmd, out, errb := start(t, fn, environ, args...)
	done := make(chan run, 1)
	go func() { done <- wait(cmd, out, errb, began) }()
	select {
	case r := <-done:
		return r
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not finish in 90s; stderr: %s", fn, errb.String())
		return run{}
	}
}

// mustInvoke runs a program and fails the test unless it exits 0.
func mustInvoke(t testing.TB, fn string, environ []string) map[string]any {
	t.Helper()
	r := invoke(t, fn, environ)
	if r.code != 0 {
		t.Fatalf("%s exited %d: %s\nstdout: %s", fn, r.code, r.stderr, r.stdout)
	}
	return r.summary(t)
}

// drain runs mirror until a run reports no lag left.
func drain(t testing.TB, environ []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		s := mustInvoke(t, "mirror", environ)
		t.Logf("drain run: %v records, lag left %v, %v ms", s["records"], s["lag_left"], s["duration_ms"])
		if s["lag_left"].(float64) == 0 {
			return
		}
	}
	t.Fatal("mirror did not catch up within 5 minutes")
}
