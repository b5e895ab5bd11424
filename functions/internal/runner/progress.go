package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mirrorless/mirrorless/core/meter"
)

// Progress renders a run's counts as one line for a person: s is what the
// run has done so far, rate the records and work units per second over the
// last few seconds (the whole run's average on the last line), elapsed the
// run's time so far. An empty line draws nothing.
type Progress func(s meter.Snapshot, rate Rate, elapsed time.Duration) string

// Rate is per-second rates of a meter's counts.
type Rate struct {
	Records, Done float64
}

// isTerminal: f is a character device (a terminal), so a line redrawn in
// place is read by a person, not parsed by a program. No dependency: the
// same test golang.org/x/term makes for "is it a tty" on Unix, minus the
// ioctl, which a character device that is not a tty (/dev/null) passes; a
// progress line written to /dev/null harms nobody.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminal is stderr when it is a terminal: it draws a progress line,
// redrawn every second, and lets other writes (log lines) through by
// clearing the line first; the next tick draws it again.
type terminal struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool // the progress line is on screen (no newline after it)

	m       *meter.Meter
	show    Progress
	start   time.Time
	samples []sample // the last few ticks, for the current rate (under mu)
	stop    chan struct{}
	stopped chan struct{}
}

type sample struct {
	at time.Time
	s  meter.Snapshot
}

// rateWindow is how many past seconds the drawn rate covers.
const rateWindow = 5

func newTerminal(w io.Writer) *terminal { return &terminal{w: w} }

// Write writes b (a log line) below a cleared progress line.
func (t *terminal) Write(b []byte) (int, error) {
	if t == nil {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	return t.w.Write(b)
}

func (t *terminal) clearLocked() {
	if t.shown {
		fmt.Fprint(t.w, "\r\033[K")
		t.shown = false
	}
}

// begin starts drawing show's line every second and returns ctx carrying
// the meter the run adds to. With no terminal or no show, ctx is returned
// as it is and nothing is drawn.
func (t *terminal) begin(ctx context.Context, show Progress) context.Context {
	if t == nil || show == nil {
		return ctx
	}
	t.m, t.show, t.start = &meter.Meter{}, show, time.Now()
	t.samples = []sample{{t.start, meter.Snapshot{}}}
	t.stop, t.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(t.stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case now := <-tick.C:
				t.draw(now)
			}
		}
	}()
	return meter.With(ctx, t.m)
}

func (t *terminal) draw(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m.Snapshot()
	t.samples = append(t.samples, sample{now, s})
	if len(t.samples) > rateWindow+1 {
		t.samples = t.samples[1:]
	}
	line := t.show(s, rateOver(t.samples[0], sample{now, s}), now.Sub(t.start))
	if line == "" {
		return
	}
	t.clearLocked()
	fmt.Fprint(t.w, fit(line, width()))
	t.shown = true
}

// end stops drawing and leaves the run's last line, with its average
// rate, on the terminal.
func (t *terminal) end() {
	if t == nil || t.stop == nil {
		return
	}
	close(t.stop)
	<-t.stopped
	now := time.Now()
	s := t.m.Snapshot()
	line := t.show(s, rateOver(sample{t.start, meter.Snapshot{}}, sample{now, s}), now.Sub(t.start))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	if line != "" {
		fmt.Fprintln(t.w, line)
	}
	t.stop = nil
}

func rateOver(a, b sample) Rate {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return Rate{}
	}
	return Rate{Records: float64(b.s.Records-a.s.Records) / secs, Done: float64(b.s.Done-a.s.Done) / secs}
}

// width is the terminal's width as the shell exports it ($COLUMNS), else
// 120: a line longer than the terminal wraps, and "\r" then redraws only
// its last part.
func width() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n - 1
	}
	return 119
}

func fit(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// The programs' progress lines.

// MirrorProgress: records copied, the rate, the lag left and when it
// should be gone at this rate.
func MirrorProgress(s meter.Snapshot, r Rate, elapsed time.Duration) string {
	left := max(0, s.Total-s.Done)
	line := fmt.Sprintf("mirror: %s records copied (%s) in %s, %s records/s, lag left %s",
		count(s.Records), size(s.Bytes), elapsed.Round(time.Second), count(int64(r.Records)), count(left))
	if left > 0 && r.Done > 0 {
		line += fmt.Sprintf(", caught up in ~%s at this rate", time.Duration(float64(left)/r.Done*float64(time.Second)).Round(time.Second))
	}
	return line
}

// Steps is a progress line for work counted in steps: "<what>: 12 of 340
// <unit> <verb>"; none while nothing is planned.
func Steps(what, unit, verb string) Progress {
	return func(s meter.Snapshot, _ Rate, elapsed time.Duration) string {
		if s.Total == 0 {
			return ""
		}
		return fmt.Sprintf("%s: %s of %s %s %s in %s", what, count(s.Done), count(s.Total), unit, verb, elapsed.Round(time.Second))
	}
}

// count writes n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
