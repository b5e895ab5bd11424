package runner_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// buildPrograms builds the three function programs as make build does,
// with a version set through -ldflags.
func buildPrograms(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range []string{"mirror", "reconcile", "checkpoint"} {
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/mirrorless/mirrorless/functions/internal/runner.version="+version,
			"-o", filepath.Join(dir, fn), "../../"+fn)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return dir
}

// listener accepts TCP connections and counts them: a stand-in for both
// clusters that proves whether a program contacted one.
func listener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String(), &n
}

type result struct {
	code           int
	stdout, stderr string
}

func runProgram(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// Help, version and bad arguments are answered by the built programs
// without reading the settings' clusters: both clusters' bootstrap is a
// listener that counts connections, and it sees none. The last case, a
// real invocation, shows that the listener does see a program that
// contacts it.
func TestProgramsCommandLine(t *testing.T) {
	bin := buildPrograms(t, "v9.8.7-test")
	addr, conns := listener(t)
	props := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf("clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\n", addr, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "MIRROR_PROPERTIES_FILE=" + props, "MIRROR_CONNECT_TIMEOUT=3s", "MIRROR_TIME_BUDGET=10s"}
	for _, c := range []struct {
		program string
		args    []string
		code    int
		stdout  string
		stderr  string
	}{
		{"mirror", []string{"-h"}, 0, "MIRROR_PROPERTIES_FILE", ""},
		{"mirror", []string{"--help"}, 0, "mirror adopt [flags]", ""},
		{"mirror", []string{"adopt", "-h"}, 0, "-apply", ""},
		{"mirror", []string{"-version"}, 0, "mirror v9.8.7-test (commit ", ""},
		{"mirror", []string{"adopt", "-bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{"mirror", []string{"adopts"}, 2, "", `unknown command "adopts"`},
		{"reconcile", []string{"-h"}, 0, "MIRROR_DRY_RUN", ""},
		{"reconcile", []string{"--help"}, 0, "reconcile -version", ""},
		{"reconcile", []string{"-version"}, 0, "reconcile v9.8.7-test", ""},
		{"reconcile", []string{"plan"}, 2, "", `unexpected argument "plan"`},
		{"reconcile", []string{"-dry-run"}, 2, "", "flag provided but not defined: -dry-run"},
		{"checkpoint", []string{"-h"}, 0, "checkpoint failover [flags]", ""},
		{"checkpoint", []string{"failover", "--help"}, 0, "-group string", ""},
		{"checkpoint", []string{"--version"}, 0, "checkpoint v9.8.7-test", ""},
		{"checkpoint", []string{"foo"}, 2, "", `unknown command "foo" (commands: failover)`},
		{"checkpoint", []string{"failover", "-group", "g", "extra"}, 2, "", `unexpected argument "extra"`},
	} {
		r := runProgram(t, filepath.Join(bin, c.program), env, c.args...)
		name := c.program + " " + strings.Join(c.args, " ")
		if r.code != c.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", name, r.code, c.code, r.stderr)
		}
		if !strings.Contains(r.stdout, c.stdout) || (c.stdout == "" && r.stdout != "") {
			t.Errorf("%s: stdout %q, want it to contain %q", name, r.stdout, c.stdout)
		}
		if !strings.Contains(r.stderr, c.stderr) || (c.stderr == "" && r.stderr != "") {
			t.Errorf("%s: stderr %q, want it to contain %q", name, r.stderr, c.stderr)
		}
		if n := conns.Load(); n != 0 {
			t.Fatalf("%s: %d connections to the cluster", name, n)
		}
	}

	// The control: an invocation does connect (and, since the listener
	// speaks no Kafka, fails at the connect timeout).
	began := time.Now()
	r := runProgram(t, filepath.Join(bin, "reconcile"), env)
	if r.code == 0 {
		t.Fatalf("reconcile against a listener that speaks no Kafka succeeded: %s", r.stdout)
	}
	if conns.Load() == 0 {
		t.Errorf("reconcile exited %d after %s and the listener saw no connection: the check above proves nothing (stderr %q)", r.code, time.Since(began), r.stderr)
	}
}

// Settings a run cannot work with exit 2 with the one-line JSON summary and
// a reason naming the variable the user set, before any cluster is
// contacted (issue 18). A GOMEMLIMIT the Go runtime cannot parse is the
// exception: the runtime stops the program before main (its own "fatal
// error", exit 2, no JSON line); the last case pins that behaviour, which
// docs/hardening.md describes.
func TestProgramsBadSettings(t *testing.T) {
	bin := buildPrograms(t, "v0-test")
	addr, conns := listener(t)
	props := filepath.Join(t.TempDir(), "mm2.properties")
	if err := os.WriteFile(props, []byte(fmt.Sprintf("clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\n", addr, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "MIRROR_PROPERTIES_FILE=" + props, "MIRROR_CONNECT_TIMEOUT=3s"}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"MIRROR_TIME_BUDGET=10s", "MIRROR_SAFETY_MARGIN=30s"}, "MIRROR_SAFETY_MARGIN (30s) must be less than MIRROR_TIME_BUDGET (10s)"},
		{[]string{"MIRROR_TIME_BUDGET=soon"}, `environment variable MIRROR_TIME_BUDGET=\"soon\" is not a duration`},
		{[]string{"MIRROR_BATCH_BYTES=9223372036854775807"}, "MIRROR_BATCH_BYTES must be between 1024 and 1073741824"},
		{[]string{"GOMEMLIMIT=1KiB"}, `GOMEMLIMIT=\"1KiB\" is below 16 MiB`},
	} {
		for _, fn := range []string{"mirror", "checkpoint"} {
			r := runProgram(t, filepath.Join(bin, fn), append(append([]string{}, base...), c.env...))
			name := fn + " " + strings.Join(c.env, " ")
			if r.code != 2 {
				t.Errorf("%s: exit %d, want 2 (stderr %q)", name, r.code, r.stderr)
			}
			if want := `{"function":"` + fn + `","ok":false,"error":"`; !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, c.want) || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("%s: stdout %q, want one JSON line containing %q", name, r.stdout, c.want)
			}
			if strings.Contains(r.stdout+r.stderr, "MIRROR_MIRROR_") {
				t.Errorf("%s: names MIRROR_MIRROR_: %q", name, r.stderr)
			}
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the cluster", n)
	}
	r := runProgram(t, filepath.Join(bin, "mirror"), append(append([]string{}, base...), "GOMEMLIMIT=abc"))
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "malformed GOMEMLIMIT") {
		t.Errorf("GOMEMLIMIT=abc: exit %d, stdout %q, stderr %.200q: the Go runtime's behaviour changed; update docs/hardening.md and the runner", r.code, r.stdout, r.stderr)
	}
}

// TestProgramsBadClientSettings: a client setting with a bad value exits 2
// before any connection, naming the key as the user wrote it, once, even
// when several clients inherit it (a per-cluster key reaches the consumer
// and the admin client; it named A.consumer.security.protocol and
// A.admin.security.protocol, neither of which is in the file).
func TestProgramsBadClientSettings(t *testing.T) {
	bin := buildPrograms(t, "v0-test")
	addr, conns := listener(t)
	for _, c := range []struct{ line, key, wrong string }{
		{"A.security.protocol = SASL_SSLL", `A.security.protocol: "SASL_SSLL" is not one of`, "A.consumer.security.protocol"},
		{"security.protocol = nope", `security.protocol: "nope" is not one of`, ".security.protocol"}, // top level: A's and B's clients
		{"B.producer.compression.type = zstdd", `B.producer.compression.type: "zstdd" is not one of`, "B.admin."},
		{"A->B.consumer.fetch.max.bytes = -1", `A->B.consumer.fetch.max.bytes: "-1" is not a positive number`, "A.consumer.fetch"},
	} {
		props := filepath.Join(t.TempDir(), "mm2.properties")
		text := fmt.Sprintf("clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\n", addr, addr)
		text += c.line + "\n"
		if err := os.WriteFile(props, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		env := []string{"PATH=" + os.Getenv("PATH"), "MIRROR_PROPERTIES_FILE=" + props, "MIRROR_CONNECT_TIMEOUT=3s"}
		r := runProgram(t, filepath.Join(bin, "mirror"), env)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		reason := lines[len(lines)-1]
		if r.code != 2 || strings.Count(reason, c.key) != 1 || strings.Contains(reason, c.wrong) {
			t.Errorf("%s: exit %d, reason %q: want exit 2 naming %q once and not %q", c.line, r.code, reason, c.key, c.wrong)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the cluster", n)
	}
}
