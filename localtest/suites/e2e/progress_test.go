package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// inTerminal runs a program with a pseudo-terminal as its stdin, stdout
// and stderr (util-linux script(1)), and returns what the terminal showed.
func inTerminal(t *testing.T, environ []string, program string, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script (util-linux) is needed to give the program a terminal: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	line := filepath.Join(binDir, program)
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.CommandContext(ctx, "script", "-q", "-e", "-c", line, "/dev/null")
	cmd.Env = environ
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n"), code
}

// On a terminal, a mirror run shows its progress and ends with the
// records it copied and the lag left; through a pipe nothing changes:
// stdout is the one JSON line and stderr has no progress line.
func TestProgressOnlyOnATerminal(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "progress")
	const parts, perPartition = 3, 10000
	const backlog = parts * perPartition
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic), "MIRROR_BATCH_RECORDS=1000")
	mustInvoke(t, "reconcile", environ)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, perPartition)

	shown, code := inTerminal(t, environ, "mirror")
	if code != 0 {
		t.Fatalf("mirror on a terminal exited %d:\n%s", code, shown)
	}
	want := fmt.Sprintf("mirror: %s records copied", count(backlog))
	if !strings.Contains(shown, want) || !strings.Contains(shown, "lag left 0\n") {
		t.Errorf("the terminal does not show %q and the lag left 0:\n%s", want, shown)
	}
	var sum struct {
		Records int64 `json:"records"`
	}
	found := false
	for _, l := range strings.Split(shown, "\n") {
		if strings.HasPrefix(l, `{"function":"mirror"`) && json.Unmarshal([]byte(l), &sum) == nil {
			found = true
		}
	}
	if !found || sum.Records != backlog {
		t.Errorf("the JSON summary is missing from the terminal or says %d records, not %d:\n%s", sum.Records, backlog, shown)
	}

	// Through pipes: the same run shows nothing for people.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, perPartition, 2*perPartition)
	r := invoke(t, "mirror", environ)
	if r.code != 0 {
		t.Fatalf("mirror exited %d: %s", r.code, r.stderr)
	}
	if s := r.summary(t); s["records"] != float64(backlog) {
		t.Errorf("piped run copied %v records, want %d", s["records"], backlog)
	}
	if strings.Contains(r.stderr, "records copied") || strings.ContainsAny(r.stderr, "\r\033") {
		t.Errorf("a piped run drew progress on stderr:\n%q", r.stderr)
	}
	if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Errorf("stdout is not one line: %q", r.stdout)
	}
}

// count writes n as the progress line does (thousands separated).
func count(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Operator commands show their progress on a terminal too (the last line
// stays), and not through a pipe: mirror adopt over three partitions
// MirrorMaker 2 never copied.
func TestCommandProgressOnlyOnATerminal(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "adoptprogress")
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic))
	mustInvoke(t, "reconcile", environ)

	shown, code := inTerminal(t, environ, "mirror", "adopt")
	if code != 0 {
		t.Fatalf("mirror adopt on a terminal exited %d:\n%s", code, shown)
	}
	if !strings.Contains(shown, "mirror adopt: 3 of 3 partitions examined") || !strings.Contains(shown, "taking over from MirrorMaker 2") {
		t.Errorf("the terminal does not show the progress and the table:\n%s", shown)
	}
	r := invoke(t, "mirror", environ, "adopt")
	if r.code != 0 {
		t.Fatalf("mirror adopt exited %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "partitions examined") || !strings.Contains(r.stderr, "taking over from MirrorMaker 2") {
		t.Errorf("through a pipe: progress drawn, or no table:\n%s", r.stderr)
	}
}
