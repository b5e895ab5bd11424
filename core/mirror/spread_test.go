package mirror

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mirrorless/mirrorless/core/lease"
)

// Partitions split into work groups by topic and partition, the same way
// for every invocation; a topic's partitions go round the groups, so a
// busy topic spreads over all of them.
func TestGroupOf(t *testing.T) {
	t.Parallel()
	for _, k := range []int{1, 2, 3, 10} {
		seen := map[int]int{}
		for p := range int32(3 * k) {
			g := groupOf("orders", p, k)
			if g < 0 || g >= k {
				t.Fatalf("groupOf(orders, %d, %d) = %d", p, k, g)
			}
			if again := groupOf("orders", p, k); again != g {
				t.Fatalf("groupOf is not stable: %d then %d", g, again)
			}
			seen[g]++
		}
		for g := range k {
			if seen[g] != 3 {
				t.Errorf("k=%d: group %d holds %d of orders' %d partitions, want 3", k, g, seen[g], 3*k)
			}
		}
	}
}

// The invocations of one fanned-out tick each start at their own group
// and go round from there; a lone invocation keeps the claiming order (the
// group of the most overdue unit first).
func TestGroupsOrder(t *testing.T) {
	t.Parallel()
	const k = 4
	var units []*unit
	for p := range int32(8) {
		units = append(units, &unit{Unit: lease.Unit{Topic: "A.t", Partition: p}, SourceTopic: "t"})
	}
	ids := func(ws []groupWork) []string {
		var out []string
		for _, w := range ws {
			out = append(out, fmt.Sprint(w.id))
			for _, u := range w.units {
				if groupOf(u.SourceTopic, u.Partition, k) != w.id {
					t.Errorf("partition %d in group %d, belongs to %d", u.Partition, w.id, groupOf(u.SourceTopic, u.Partition, k))
				}
			}
			if len(w.units) != 2 {
				t.Errorf("group %d has %d units, want 2", w.id, len(w.units))
			}
		}
		return out
	}
	first := groupOf("t", 0, k)
	lone := ids(groups(units, k, 0, false))
	if len(lone) != k || lone[0] != fmt.Sprint(first) {
		t.Errorf("lone invocation: groups %v, want %d groups starting with partition 0's (%d)", lone, k, first)
	}
	for index := range 6 {
		got := ids(groups(units, k, index, true))
		want := []string{}
		for i := range k {
			want = append(want, fmt.Sprint((index+i)%k))
		}
		if !slices.Equal(got, want) {
			t.Errorf("index %d: groups %v, want %v", index, got, want)
		}
	}
}
