package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/meter"
)

// The terminal draws the line in place, lets log lines through on lines
// of their own, and leaves the last line when the run ends.
func TestTerminal(t *testing.T) {
	var out bytes.Buffer
	term := newTerminal(&out)
	ctx := term.begin(context.Background(), MirrorProgress)
	m := meter.From(ctx)
	if m == nil {
		t.Fatal("begin gave the run no meter")
	}
	m.AddTotal(1000)
	m.AddRecords(400, 4096)
	m.AddDone(400)
	term.draw(term.start.Add(2 * time.Second))
	if _, err := term.Write([]byte("{\"msg\":\"a log line\"}\n")); err != nil {
		t.Fatal(err)
	}
	m.AddRecords(600, 6144)
	m.AddDone(600)
	term.end()
	got := out.String()
	for _, want := range []string{
		"mirror: 400 records copied (4.0 KiB) in 2s, 200 records/s, lag left 600, caught up in ~3s at this rate\r\033[K{\"msg\":\"a log line\"}\n",
		"mirror: 1,000 records copied (10.0 KiB) in ",
		"lag left 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal shows %q, without %q", got, want)
		}
	}
}

// Without a terminal nothing is drawn and the run gets no meter.
func TestNoTerminal(t *testing.T) {
	var term *terminal
	ctx := term.begin(context.Background(), MirrorProgress)
	if meter.From(ctx) != nil {
		t.Error("a run without a terminal got a meter")
	}
	term.end()
	var out bytes.Buffer
	if ctx := newTerminal(&out).begin(context.Background(), nil); meter.From(ctx) != nil {
		t.Error("a program without a progress line got a meter")
	}
}

func TestProgressLines(t *testing.T) {
	for _, c := range []struct {
		show Progress
		s    meter.Snapshot
		r    Rate
		want string
	}{
		{MirrorProgress, meter.Snapshot{Total: 5_000_000, Done: 1_234_567, Records: 1_234_567, Bytes: 3 << 30}, Rate{Records: 45210, Done: 45210},
			"mirror: 1,234,567 records copied (3.0 GiB) in 1m0s, 45,210 records/s, lag left 3,765,433, caught up in ~1m23s at this rate"},
		{MirrorProgress, meter.Snapshot{Total: 10, Done: 0}, Rate{}, "mirror: 0 records copied (0 B) in 1m0s, 0 records/s, lag left 10"},
		{Steps("reconcile", "changes", "done"), meter.Snapshot{Total: 2000, Done: 120}, Rate{}, "reconcile: 120 of 2,000 changes done in 1m0s"},
		{Steps("reconcile", "changes", "done"), meter.Snapshot{}, Rate{}, ""},
	} {
		if got := c.show(c.s, c.r, time.Minute); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
