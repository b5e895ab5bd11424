package mirror

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/lease"
)

// The invocations of one tick, each given the candidates in its own
// (shuffled) order, prefer disjoint partitions: with two partitions per
// invocation, the first two of indexes 0, 1 and 2 are six different
// partitions, the least recently committed (never committed first) at
// index 0; an index past the list wraps round.
func TestSpread(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []*unit
	for i := range 6 {
		u := &unit{Unit: lease.Unit{Topic: "A.t", Partition: int32(i)}, SourceTopic: "t"}
		if i >= 2 { // partitions 0 and 1 were never committed
			u.Progress = &Position{Committed: base.Add(time.Duration(10-i) * time.Minute)}
		}
		all = append(all, u)
	}
	names := func(us []*unit) []string {
		var out []string
		for _, u := range us {
			out = append(out, fmt.Sprint(u.Partition))
		}
		return out
	}
	var prefs [][]string
	for index := range 3 {
		in := slices.Clone(all)
		rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		got := spread(in, index, 2)
		if len(got) != len(all) {
			t.Fatalf("index %d: %d candidates, want %d", index, len(got), len(all))
		}
		prefs = append(prefs, names(got[:2]))
	}
	want := [][]string{{"0", "1"}, {"5", "4"}, {"3", "2"}}
	if !slices.EqualFunc(prefs, want, slices.Equal) {
		t.Errorf("first two preferred by indexes 0, 1, 2: %v, want %v", prefs, want)
	}
	if got := names(spread(all, 3, 2)[:2]); !slices.Equal(got, want[0]) {
		t.Errorf("index 3 (past the list) prefers %v, want %v", got, want[0])
	}
	if got := spread(nil, 4, 2); len(got) != 0 {
		t.Errorf("no candidates: %v", got)
	}
}
