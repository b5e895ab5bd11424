package fanout

import (
	"context"
	"testing"
	"time"
)

func TestInvocations(t *testing.T) {
	t.Parallel()
	// One invocation copies 1,000 records/s for 50 s (50,000 records) and
	// claims 64 partitions.
	c := Capacity{RecordsPerSecond: 1000, Partitions: 64, Window: 50 * time.Second}
	for _, tc := range []struct {
		name  string
		b     Backlog
		c     Capacity
		limit int
		want  int
	}{
		{"idle runs alone", Backlog{}, c, 10, 1},
		{"little to do runs alone", Backlog{Records: 10, Partitions: 3}, c, 10, 1},
		{"exactly one share runs alone", Backlog{Records: 50_000, Partitions: 64}, c, 10, 1},
		{"one record over a share needs two", Backlog{Records: 50_001, Partitions: 1}, c, 10, 2},
		{"records decide", Backlog{Records: 175_000, Partitions: 4}, c, 10, 4},
		{"partitions decide (trickle over many partitions)", Backlog{Records: 2000, Partitions: 200}, c, 10, 4},
		{"the cap wins", Backlog{Records: 10_000_000, Partitions: 1}, c, 10, 10},
		{"the cap wins over partitions", Backlog{Records: 1, Partitions: 2000}, c, 10, 10},
		{"a cap of one never fans out", Backlog{Records: 10_000_000, Partitions: 2000}, c, 1, 1},
		{"a cap below one counts as one", Backlog{Records: 10_000_000}, c, 0, 1},
		{"huge backlog, tiny rate: capped, no overflow", Backlog{Records: 1 << 62, Partitions: 1 << 30}, Capacity{RecordsPerSecond: 1e-300, Partitions: 1, Window: time.Second}, 7, 7},
		{"no rate known: partitions only", Backlog{Records: 1e9, Partitions: 65}, Capacity{Partitions: 64, Window: time.Minute}, 10, 2},
		{"no partition cap known: records only", Backlog{Records: 100_001, Partitions: 1e6}, Capacity{RecordsPerSecond: 1000, Window: 50 * time.Second}, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Invocations(tc.b, tc.c, tc.limit); got != tc.want {
				t.Errorf("Invocations(%+v, %+v, %d) = %d, want %d", tc.b, tc.c, tc.limit, got, tc.want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		interval, budget, margin, want time.Duration
	}{
		{time.Minute, 60 * time.Second, 5 * time.Second, 55 * time.Second},      // the budget is shorter
		{30 * time.Second, 60 * time.Second, 5 * time.Second, 30 * time.Second}, // the interval is shorter
		{0, 900 * time.Second, 5 * time.Second, 895 * time.Second},              // cron: the budget
		{time.Millisecond, 60 * time.Second, 0, time.Second},                    // never below a second
	} {
		if got := Window(tc.interval, tc.budget, tc.margin); got != tc.want {
			t.Errorf("Window(%s, %s, %s) = %s, want %s", tc.interval, tc.budget, tc.margin, got, tc.want)
		}
	}
}

func TestMayFanOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		payload string
		want    bool
		err     bool
	}{
		{"", true, false},
		{`{"source":"mirrorless.scheduler","function":"mirror"}`, true, false},
		{`{"source":"aws.events","detail-type":"Scheduled Event"}`, true, false},
		{`"just a string"`, true, false},
		{string(WorkerEvent("req-1", 3, 4)), false, false},
		{`{"source":"mirrorless.fanout"}`, false, false},
		{`{"worker":true}`, false, false},
		{`{"depth":1}`, false, false},
		{`{"depth":0}`, true, false},
		{`{"worker":"yes"}`, false, true},
		{`{"depth":"deep"}`, false, true},
	} {
		got, err := MayFanOut([]byte(tc.payload))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("MayFanOut(%s) = %v, %v; want %v, error %v", tc.payload, got, err, tc.want, tc.err)
		}
	}
}

// A worker's own event, fed back to it, never lets it fan out: the loop
// guard holds for every index.
func TestWorkerEventNeverFansOut(t *testing.T) {
	t.Parallel()
	for i := 1; i < 100; i++ {
		if ok, err := MayFanOut(WorkerEvent("p", i, i+1)); ok || err != nil {
			t.Fatalf("worker event %d: may fan out %v, err %v", i, ok, err)
		}
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	if _, ok := IndexFrom(context.Background()); ok {
		t.Error("an index in a bare context")
	}
	if i, ok := IndexFrom(WithIndex(context.Background(), 3)); i != 3 || !ok {
		t.Errorf("IndexFrom = %d, %v; want 3", i, ok)
	}
	for _, c := range []struct {
		payload string
		want    int
		ok      bool
	}{
		{string(WorkerEvent("tick", 2, 3)), 2, true},
		{`{"source":"mirrorless.scheduler","function":"mirror"}`, 0, false},
		{`{"source":"mirrorless.fanout","worker":true,"index":0}`, 0, false},
		{`{"worker":true,"index":4}`, 0, false},
		{`not json`, 0, false},
	} {
		if i, ok := WorkerIndex([]byte(c.payload)); i != c.want || ok != c.ok {
			t.Errorf("WorkerIndex(%s) = %d, %v; want %d, %v", c.payload, i, ok, c.want, c.ok)
		}
	}
}
