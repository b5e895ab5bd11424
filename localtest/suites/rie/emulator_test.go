// Package rie runs the function bootstraps in the real Lambda runtime loop:
// built as for Lambda (linux, -tags lambda.norpc), started by the AWS
// Lambda Runtime Interface Emulator, invoked over its HTTP API with a
// scheduled-event payload, against the real Kafka pair (tier 4).
//
// The emulator is a Go module: it is installed from the Go module proxy
// into the user's cache (never vendored, never in go.mod). Without the
// real pair the tests skip, except under CI=true, where they fail; an
// emulator that cannot be installed fails them under CI too.
package rie

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// rieVersion pins the emulator. The module publishes no tags on the proxy;
// this is its pseudo-version of 2026-10-30.
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

var (
	buildOnce sync.Once
	rieBin    string
	binDir    string
	buildErr  error
)

// tools installs the emulator and builds the bootstraps, once per test
// binary. It first checks for the real pair (skip, or fail under CI).
func tools(t *testing.T) kafkatest.Pair {
	t.Helper()
	pair := kafkatest.Real(t)
	buildOnce.Do(func() { buildErr = build() })
	if buildErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tier 4 needs the Lambda emulator and bootstraps under CI: %v", buildErr)
		}
		t.Skipf("cannot build the Lambda emulator or bootstraps: %v", buildErr)
	}
	return pair
}

func build() error {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	gobin := filepath.Join(cache, "mirrorless", "aws-lambda-rie-"+rieVersion)
	rieBin = filepath.Join(gobin, "aws-lambda-rie")
	if _, err := os.Stat(rieBin); err != nil {
		cmd := exec.Command("go", "install", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+rieVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go install aws-lambda-rie@%s: %v\n%s", rieVersion, err, out)
		}
	}
	binDir, err = os.MkdirTemp("", "mirrorless-rie-bootstraps")
	if err != nil {
		return err
	}
	return kafkatest.BuildFunctions(context.Background(), binDir, true, kafkatest.Functions...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// output collects the emulator's stdout and stderr, where the bootstrap's
// own output goes too.
type output struct{ kafkatest.SyncBuffer }

// jsonLines are the output's JSON objects: the bootstrap's logs and EMF
// documents (the emulator's own lines are plain text).
func (o *output) jsonLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(o.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitLine waits until a JSON line of the output satisfies ok. The
// bootstrap's stdout reaches the output through the emulator's pipe, so a
// line written as an invocation ends may arrive after its response.
func (o *output) waitLine(ok func(map[string]any) bool, within time.Duration) bool {
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		for _, l := range o.jsonLines() {
			if ok(l) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// emulator is one running aws-lambda-rie with one function: one execution
// environment, kept warm between invocations as Lambda does.
type emulator struct {
	fn   string
	addr string
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
	err  error // the emulator's exit, once done is closed
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the emulator for fn with the environment given (besides PATH
// and HOME); timeout is the function timeout in seconds.
func start(t *testing.T, fn string, timeout int, env ...string) *emulator {
	t.Helper()
	e := &emulator{fn: fn, addr: freePort(t), out: &output{}, done: make(chan struct{})}
	api := freePort(t)
	e.cmd = exec.Command(rieBin,
		"--runtime-interface-emulator-address", e.addr,
		"--runtime-api-address", api,
		filepath.Join(binDir, fn, "bootstrap"))
	e.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", timeout),
		"AWS_LAMBDA_FUNCTION_NAME=mirrorless-" + fn,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
	}, env...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.err = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(func() {
		select {
		case <-e.done:
			return
		default:
		}
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator for %s does not listen on %s: %s", fn, e.addr, e.out.String())
		}
		select {
		case <-e.done:
			t.Fatalf("the emulator for %s exited (%v): %s", fn, e.err, e.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return e
}

// scheduledEvent is what EventBridge Scheduler passes to the function: the
// schedule's Input (template.yaml sets it) — the functions ignore it, but
// the runtime must accept it.
func scheduledEvent(fn string) string {
	return fmt.Sprintf(`{"source":"mirrorless.scheduler","function":%q,"time":%q}`, fn, time.Now().UTC().Format(time.RFC3339))
}

// response is one invocation's outcome through the emulator.
type response struct {
	status int
	body   []byte
	took   time.Duration
}

// invoke posts one invocation with the given request id and waits for it.
func (e *emulator) invoke(t *testing.T, reqID string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+"/2015-03-31/functions/function/invocations", strings.NewReader(scheduledEvent(e.fn)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amzn-RequestId", reqID)
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke %s: %v\n%s", e.fn, err, e.out.String())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: body, took: time.Since(began)}
}

// mustInvoke invokes and decodes a successful summary.
func (e *emulator) mustInvoke(t *testing.T, reqID string) map[string]any {
	t.Helper()
	r := e.invoke(t, reqID)
	var sum map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &sum) != nil || sum["ok"] != true {
		t.Fatalf("%s invocation %s: HTTP %d, body %s\noutput:\n%s", e.fn, reqID, r.status, r.body, e.out.String())
	}
	t.Logf("%s %s: %v ms inside, %v round trip", e.fn, reqID, sum["duration_ms"], r.took.Round(time.Millisecond))
	return sum
}

// stop sends SIGTERM to the emulator, which passes it on to the runtime
// (the bootstrap registered for it), and waits for both to end.
func (e *emulator) stop(t *testing.T) error {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the emulator did not exit within 15s of SIGTERM:\n%s", e.out.String())
	}
	return e.err
}

// env is the functions' environment for a properties file.
func env(props string, extra ...string) []string {
	return append([]string{"MIRROR_PROPERTIES_FILE=" + props, "MIRROR_TIME_BUDGET=60s", "MIRROR_SAFETY_MARGIN=3s"}, extra...)
}

// withMsg returns the bootstrap's log lines with that message.
func withMsg(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// processGone waits until pid no longer runs (or is a zombie nobody reaps).
func processGone(pid int, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return true
			}
		}
	}
	return false
}
