package main

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The verifier regenerates each source record from its sequence number, so
// the generator must be deterministic and every field must depend on it.
func TestRecordDeterministic(t *testing.T) {
	t.Parallel()
	w := workloads(0.001, map[string]bool{"w1": true})[0]
	var a, b, c kgo.Record
	w.record(0, 3, 41, &a)
	w.record(0, 3, 41, &b)
	if why := differs(&a, &b); why != "" {
		t.Fatalf("same arguments, different records: %s", why)
	}
	if got := seqOf(&a); got != 41 {
		t.Fatalf("seqOf = %d, want 41", got)
	}
	if len(a.Value) != w.Size || len(a.Key) != 16 || len(a.Headers) != 2 {
		t.Fatalf("shape: value %d bytes (want %d), key %d, headers %d", len(a.Value), w.Size, len(a.Key), len(a.Headers))
	}
	w.record(0, 3, 42, &c)
	if differs(&a, &c) == "" {
		t.Fatal("records 41 and 42 are equal")
	}
	w.record(0, 4, 41, &c)
	if differs(&a, &c) == "" {
		t.Fatal("partitions 3 and 4 give equal records")
	}
}

func TestDiffers(t *testing.T) {
	t.Parallel()
	w := workloads(0.001, map[string]bool{"w2": true})[0]
	base := func() *kgo.Record {
		var r kgo.Record
		w.record(0, 0, 7, &r)
		return &r
	}
	for _, tc := range []struct {
		name   string
		change func(r *kgo.Record)
	}{
		{"key", func(r *kgo.Record) { r.Key[0] ^= 1 }},
		{"value", func(r *kgo.Record) { r.Value = r.Value[:len(r.Value)-1] }},
		{"timestamp", func(r *kgo.Record) { r.Timestamp = r.Timestamp.Add(time.Millisecond) }},
		{"header value", func(r *kgo.Record) { r.Headers[1].Value[0] ^= 1 }},
		{"header order", func(r *kgo.Record) { r.Headers[0], r.Headers[1] = r.Headers[1], r.Headers[0] }},
		{"header missing", func(r *kgo.Record) { r.Headers = r.Headers[:1] }},
	} {
		got := base()
		tc.change(got)
		if differs(got, base()) == "" {
			t.Errorf("%s changed, differs says equal", tc.name)
		}
	}
	if why := differs(base(), base()); why != "" {
		t.Errorf("equal records: %s", why)
	}
}

func TestWorkloadSizes(t *testing.T) {
	t.Parallel()
	all := map[string]bool{"w1": true, "w2": true, "w3": true}
	full := workloads(1, all)
	want := []struct {
		topics int
		total  int64
	}{{1, 1_000_000}, {1, 1_000_000}, {1000, 400_000}}
	for i, w := range full {
		if len(w.Topics) != want[i].topics || w.total() != want[i].total {
			t.Errorf("%s: %d topics, %d records; want %d, %d", w.Name, len(w.Topics), w.total(), want[i].topics, want[i].total)
		}
	}
	small := workloads(0.002, all)
	if got := small[0].total(); got != 2000 {
		t.Errorf("w1 at 0.002: %d records, want 2000", got)
	}
	if got := len(small[2].Topics); got != 2 {
		t.Errorf("w3 at 0.002: %d topics, want 2", got)
	}
}
