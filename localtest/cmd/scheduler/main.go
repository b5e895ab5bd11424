// Command scheduler runs the function programs on their schedules against any two clusters,
// as EventBridge Scheduler runs them in Lambda: MirrorMaker 2's "dedicated mode" in one
// command.
//
//	export MIRROR_PROPERTIES_FILE=/etc/kafka/connect-mirror-maker.properties
//	go run ./localtest/cmd/scheduler                      # or: make local
//	go run ./localtest/cmd/scheduler -mirror 10s -for 5m
//
// It builds functions/{mirror,reconcile,checkpoint} into a temporary directory (a function
// whose program does not exist is skipped with a note), runs reconcile once first, then each
// program on its own interval — never two runs of one program at once — through the same
// outside-Lambda contract the black-box tests use (one invocation per process, a JSON summary
// line on stdout, exit 0/1/2), and shows a live status line: per flow the lag left, records/s
// and records copied, and each function's last result. The programs' JSON logs go to files in
// -logs. Ctrl-C stops scheduling and lets running invocations finish their transaction
// (SIGTERM, then SIGKILL after 30 s); a second Ctrl-C exits at once.
//
// Each mirror tick first runs `mirror size` and then as many mirror processes at once as it
// says (MIRROR_MAX_CONCURRENCY caps them; 1 turns fan-out off), as the Lambda tick starts
// workers; the tick's line counts them. Every MIRROR_* variable (core/config/env.go) is passed
// to the programs unchanged; MIRROR_SCHEDULE_INTERVAL defaults to -mirror for the sizing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mirrorEvery := fs.Duration("mirror", time.Minute, "run mirror this often")
	reconcileEvery := fs.Duration("reconcile", 5*time.Minute, "run reconcile this often")
	checkpointEvery := fs.Duration("checkpoint", time.Minute, "run checkpoint this often")
	only := fs.String("functions", "mirror,reconcile,checkpoint", "the functions to run, comma-separated")
	runFor := fs.Duration("for", 0, "stop after this long (0: until Ctrl-C)")
	logDir := fs.String("logs", "", "directory for the programs' logs (default: a new temporary directory)")
	live := fs.String("status", "auto", "live status line: auto (when stderr is a terminal), on, or off (a line per run)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "scheduler: "+format+"\n", a...)
		return code
	}
	if os.Getenv("MIRROR_PROPERTIES_FILE") == "" && os.Getenv("MIRROR_PROPERTIES") == "" {
		return fail(2, "MIRROR_PROPERTIES_FILE is not set: point it at your connect-mirror-maker.properties")
	}
	every := map[string]time.Duration{"mirror": *mirrorEvery, "reconcile": *reconcileEvery, "checkpoint": *checkpointEvery}
	var names []string
	for _, n := range strings.Split(*only, ",") {
		n = strings.TrimSpace(n)
		d, ok := every[n]
		if !ok {
			return fail(2, "-functions: %q is not one of mirror, reconcile, checkpoint", n)
		}
		if d <= 0 {
			return fail(2, "-%s must be positive", n)
		}
		names = append(names, n)
	}

	root, err := moduleRoot()
	if err != nil {
		return fail(2, "%v", err)
	}
	binDir, err := os.MkdirTemp("", "mirrorless-scheduler-")
	if err != nil {
		return fail(1, "%v", err)
	}
	defer os.RemoveAll(binDir)
	if *logDir == "" {
		*logDir = filepath.Join(binDir, "logs")
	}
	if err := os.MkdirAll(*logDir, 0o755); err != nil {
		return fail(1, "%v", err)
	}

	var jobs []Job
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, "functions", n, "main.go")); err != nil {
			fmt.Fprintf(stderr, "scheduler: note: functions/%s does not exist in this checkout; %s is skipped\n", n, n)
			continue
		}
		fmt.Fprintf(stderr, "scheduler: building %s\n", n)
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, n), "./functions/"+n)
		build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
		if err := build.Run(); err != nil {
			return fail(1, "build functions/%s: %v", n, err)
		}
		jobs = append(jobs, Job{Name: n, Every: every[n]})
	}
	if len(jobs) == 0 {
		return fail(2, "nothing to run")
	}
	var plan []string
	for _, j := range jobs {
		plan = append(plan, fmt.Sprintf("%s every %s", j.Name, j.Every))
	}
	fmt.Fprintf(stderr, "scheduler: %s (reconcile first); logs in %s; Ctrl-C to stop\n", strings.Join(plan, ", "), *logDir)

	// Ctrl-C stops scheduling and signals the running programs; -for only stops scheduling, so
	// the last runs end normally.
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx := sigCtx
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(sigCtx, *runFor)
		defer cancel()
	}
	go func() {
		<-ctx.Done()
		if sigCtx.Err() != nil {
			stop() // a second Ctrl-C kills the scheduler at once
		}
		fmt.Fprintf(stderr, "\nscheduler: stopping; waiting for running invocations to finish (Ctrl-C again to quit now)\n")
	}()

	status := NewStatus(time.Now())
	showLive := *live == "on" || (*live == "auto" && isTerminal(stderr))
	var outMu sync.Mutex
	report := func(o Outcome) {
		line := status.Record(o)
		outMu.Lock()
		defer outMu.Unlock()
		if showLive {
			fmt.Fprint(stderr, "\r\033[K")
		}
		fmt.Fprintln(stdout, line)
	}
	done := make(chan struct{})
	if showLive {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					outMu.Lock()
					fmt.Fprint(stderr, "\r\033[K"+truncate(status.Line(now), terminalWidth()))
					outMu.Unlock()
				}
			}
		}()
	}
	runOne := fanOut(execRunner(binDir, *logDir), execSizer(binDir, *mirrorEvery))
	Schedule(ctx, jobs, "reconcile", func(_ context.Context, fn string) Outcome { return runOne(sigCtx, fn) }, report)
	close(done)
	outMu.Lock()
	if showLive {
		fmt.Fprint(stderr, "\r\033[K")
	}
	fmt.Fprintln(stdout, "status: "+status.Line(time.Now()))
	outMu.Unlock()
	return 0
}

// execRunner runs a built program once, with the scheduler's environment, its stderr appended
// to <logs>/<function>.log.
func execRunner(binDir, logDir string) EnvRunner {
	return func(ctx context.Context, fn string, env ...string) Outcome {
		o := Outcome{Function: fn, Start: time.Now(), ExitCode: -1}
		logf, err := os.OpenFile(filepath.Join(logDir, fn+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			o.Reason = err.Error()
			return o
		}
		defer logf.Close()
		// Not exec.CommandContext's default SIGKILL: SIGTERM lets the program end its
		// transaction and release its leases, as Lambda's SIGTERM does.
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, fn))
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		if len(env) > 0 {
			cmd.Env = append(os.Environ(), env...)
		}
		cmd.WaitDelay = 30 * time.Second
		var out, errb bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = io.MultiWriter(logf, &errb)
		err = cmd.Run()
		o.Duration = time.Since(o.Start)
		o.Summary = lastLine(out.Bytes())
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			o.ExitCode = ee.ExitCode()
		} else if err == nil {
			o.ExitCode = 0
		}
		if err != nil {
			o.Reason = string(lastLine(errb.Bytes()))
			if o.Reason == "" {
				o.Reason = err.Error()
			}
		}
		return o
	}
}

// lastLine is the last non-empty line of b.
func lastLine(b []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			last = append(last[:0], l...)
		}
	}
	return last
}

// moduleRoot is the directory of the mirrorless go.mod, where functions/ lives.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run it from the mirrorless repository (go run ./localtest/cmd/scheduler)")
	}
	return filepath.Dir(mod), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func terminalWidth() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("COLUMNS"), &n); err == nil && n > 20 {
		return n
	}
	return 200
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
