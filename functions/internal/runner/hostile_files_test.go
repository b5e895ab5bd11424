//go:build unix

package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// runWithin runs a program, killing it after d: a program that hangs is
// reported as such instead of hanging the test.
func runWithin(t *testing.T, d time.Duration, bin string, env []string) (result, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s (stderr %.300q)", filepath.Base(bin), d, errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rssKiB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rssKiB = int64(ru.Maxrss)
	}
	return r, rssKiB
}

// Hostile properties files (issue 18): each ends the program quickly with
// a bounded, printable answer that says what is wrong, or, for what is only
// suspicious, a bounded number of warnings. Before the fixes: a FIFO with no
// writer hung the program, a long line failed with "bufio.Scanner: token
// too long" and no line number, random bytes were echoed raw to stderr, a
// file of unknown keys wrote a warning per key (46.8 MB for 50 MB), a
// 1.5 MB topics regex took 353 MB, a duplicated key was silently taken, and
// an alias with a right-to-left override reached the logs raw.
func TestProgramsHostileFiles(t *testing.T) {
	bin := filepath.Join(buildPrograms(t, "v0-test"), "mirror")
	addr, _ := listener(t)
	dir := t.TempDir()
	head := fmt.Sprintf("clusters = A, B\nA.bootstrap.servers = %s\nB.bootstrap.servers = %s\nA->B.enabled = true\n", addr, addr)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(18, 10))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	// Random bytes as keys (no backslash, so the file parses): a flow
	// key naming no cluster is a problem whose key the error names.
	var randomKeys strings.Builder
	randomKeys.WriteString(head)
	for i := 0; i < 64; i++ {
		k := strings.Map(func(r rune) rune {
			if r == '\\' || r == '\n' || r == '\r' || r == '=' || r == ':' || r == ' ' || r == '\t' || r == '\f' {
				return 'x'
			}
			return r
		}, string(random[i*32:(i+1)*32]))
		fmt.Fprintf(&randomKeys, "C->D.%s = 1\nA->B.%s = 1\n", k, k)
	}
	var unknown strings.Builder
	unknown.WriteString(head)
	for i := 0; unknown.Len() < 1<<20; i++ {
		fmt.Fprintf(&unknown, "no.such.key.%d = %d\n", i, i)
	}
	var regex strings.Builder
	for i := 0; regex.Len() < 512<<10; i++ {
		fmt.Fprintf(&regex, "topic-%d|", i)
	}
	for _, c := range []struct {
		name   string
		path   string
		code   int
		stderr []string // each must appear
		maxErr int      // bytes of stderr at most
	}{
		{"fifo", fifo, 2, []string{"is not a regular file (a named pipe)"}, 1 << 10},
		{"directory", dir, 2, []string{"is not a regular file (a directory)"}, 1 << 10},
		{"long line", write("long", head+"A->B.topics = "+strings.Repeat("x", 2<<20)+"\n"), 2, []string{"line 5: longer than 1048576 bytes (the limit for one line)"}, 1 << 10},
		{"too large", write("large", head+strings.Repeat("# comment\n", 500_000)), 2, []string{"bytes; the limit is 4194304"}, 1 << 10},
		{"random bytes", write("random", string(random)), 2, nil, 16 << 10},
		{"random keys", write("randomkeys", randomKeys.String()), 2, []string{"flow names cluster"}, 64 << 10},
		{"unknown keys", write("unknown", unknown.String()), 1, []string{"no.such.key.0 is not a MirrorMaker 2 setting", "more warnings are not listed"}, 64 << 10},
		{"topics regex", write("regex", head+"A->B.topics = "+regex.String()+"x\n"), 2, []string{"A->B.topics: the list of regular expressions is", "at most 65536"}, 2 << 10},
		{"duplicate", write("dup", head+"A->B.topics = a\nA->B.topics = b\n"), 1, []string{"A->B.topics is set twice, on lines 5 and 6: the value on line 6 wins"}, 16 << 10},
		{"bidi alias", write("bidi", "clusters = A, B\u202e\x1b[2J\nA.bootstrap.servers = x:1\nB\u202e\x1b[2J.bootstrap.servers = x:1\nA->B\u202e\x1b[2J.enabled = true\n"), 2, []string{`alias "B\u202e\x1b[2J" contains`}, 2 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := []string{"PATH=" + os.Getenv("PATH"), "MIRROR_PROPERTIES_FILE=" + c.path, "MIRROR_CONNECT_TIMEOUT=2s", "MIRROR_TIME_BUDGET=10s"}
			r, rss := runWithin(t, 60*time.Second, bin, env)
			if r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %.500q)", r.code, c.code, r.stderr)
			}
			for _, w := range c.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %.1000q", w, r.stderr)
				}
			}
			if len(r.stderr) > c.maxErr {
				t.Errorf("stderr is %d bytes, want at most %d", len(r.stderr), c.maxErr)
			}
			for _, out := range []string{r.stdout, r.stderr} {
				for i, ch := range out {
					if ch == utf8.RuneError || ch != '\n' && !unicode.IsPrint(ch) {
						t.Fatalf("output has %U at byte %d: %.200q", ch, i, out[max(0, i-80):])
					}
				}
			}
			if rss > 256<<10 {
				t.Errorf("peak memory %d MiB", rss>>10)
			}
			t.Logf("exit %d, %d bytes of stderr, peak %d MiB: %.300s", r.code, len(r.stderr), rss>>10, r.stderr)
		})
	}
}
