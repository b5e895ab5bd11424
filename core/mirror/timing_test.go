package mirror

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTiming(t *testing.T) {
	t.Parallel()
	base := time.UnixMilli(1_700_000_000_000)
	recs := func(ages ...int) []*kgo.Record {
		var out []*kgo.Record
		for _, a := range ages {
			out = append(out, &kgo.Record{Timestamp: base.Add(-time.Duration(a) * time.Millisecond)})
		}
		return out
	}
	var a Timing
	// Two records, 100 and 300 ms old when the transaction began at base;
	// committed 50 ms later.
	a.note(base, base.Add(50*time.Millisecond), stampsOf(recs(100, 300)))
	if want := (Timing{LatencyMaxMs: 350, LatencyAvgMs: 250, RecordAgeMaxMs: 300, RecordAgeAvgMs: 200}); a.LatencyMaxMs != want.LatencyMaxMs || a.LatencyAvgMs != want.LatencyAvgMs || a.RecordAgeMaxMs != want.RecordAgeMaxMs || a.RecordAgeAvgMs != want.RecordAgeAvgMs {
		t.Fatalf("got %+v, want %+v", a, want)
	}
	// An empty transaction changes nothing.
	a.note(base, base, stampsOf(nil))
	if a.Timed() != 2 {
		t.Fatalf("timed %d records, want 2", a.Timed())
	}
	// Another unit: one record 1000 ms old, committed 10 ms after begin.
	var b Timing
	b.note(base, base.Add(10*time.Millisecond), stampsOf(recs(1000)))
	a.merge(b)
	if a.LatencyMaxMs != 1010 || a.RecordAgeMaxMs != 1000 || a.Timed() != 3 {
		t.Fatalf("merged: %+v", a)
	}
	// (350+150+1010)/3 = 503; (300+100+1000)/3 = 466
	if a.LatencyAvgMs != 503 || a.RecordAgeAvgMs != 466 {
		t.Fatalf("merged averages: latency %d, age %d", a.LatencyAvgMs, a.RecordAgeAvgMs)
	}
	// Timestamps in the future count as 0, not negative.
	var c Timing
	c.note(base, base.Add(time.Millisecond), stampsOf(recs(-5000)))
	if c.LatencyMaxMs != 0 || c.RecordAgeMaxMs != 0 || c.LatencyAvgMs != 0 {
		t.Fatalf("future timestamps: %+v", c)
	}
}
