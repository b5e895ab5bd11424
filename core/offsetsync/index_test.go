package offsetsync

import (
	"math/rand/v2"
	"testing"
)

// copied is one simulated replication: the target offset of every copied
// source offset, and the syncs a mirror following the documented rules
// would have written (first record of an invocation, offset.lag.max, any
// upstream gap, and the last record of each transaction).
type copied struct {
	down  map[int64]int64 // source offset -> target offset
	ups   []int64         // copied source offsets, ascending
	syncs []Sync
}

func simulate(rng *rand.Rand, records int, lagMax int64) copied {
	c := copied{down: map[int64]int64{}}
	up, down := int64(0), int64(0)
	lastSyncDown, prevUp := int64(-1), int64(-1)
	synced := false
	for n := 0; n < records; {
		txn := 1 + rng.IntN(300)
		newInvocation := rng.IntN(10) == 0
		if newInvocation {
			synced = false
		}
		for i := 0; i < txn && n < records; i, n = i+1, n+1 {
			if rng.IntN(20) == 0 {
				up += 1 + int64(rng.IntN(3)) // source markers, aborted records, compaction
			}
			c.down[up] = down
			c.ups = append(c.ups, up)
			last := i == txn-1 || n == records-1
			if !synced || down-(lastSyncDown+1) >= lagMax || (prevUp >= 0 && up-prevUp != 1) || last {
				c.syncs = append(c.syncs, Sync{up, down})
				synced, lastSyncDown = true, down
			}
			prevUp = up
			up++
			down++
		}
		down++ // the target's commit marker
	}
	return c
}

// reReads counts the copied records a consumer seeking to target offset t
// reads although the group had processed them (source offsets below g).
func (c copied) reReads(t, g int64) int64 {
	var n int64
	for _, u := range c.ups {
		if u < g && c.down[u] >= t {
			n++
		}
	}
	return n
}

// lost counts records at or after g that a consumer at t would skip.
func (c copied) lost(t, g int64) int64 {
	var n int64
	for _, u := range c.ups {
		if u >= g && c.down[u] < t {
			n++
		}
	}
	return n
}

func TestTranslateNeverLosesAndReReadsAtMostLagMax(t *testing.T) {
	for _, lagMax := range []int64{0, 1, 10, 100} {
		rng := rand.New(rand.NewPCG(uint64(lagMax), 7))
		c := simulate(rng, 5000, lagMax)
		var x Index
		for _, s := range c.syncs {
			x.Add(s)
		}
		last := c.ups[len(c.ups)-1]
		worst := int64(0)
		for g := c.ups[0]; g <= last+1; g++ {
			tr, ok := x.Translate(g)
			if !ok {
				t.Fatalf("lag %d: no translation for %d", lagMax, g)
			}
			if l := c.lost(tr, g); l != 0 {
				t.Fatalf("lag %d: group at %d -> %d skips %d records", lagMax, g, tr, l)
			}
			r := c.reReads(tr, g)
			if r > lagMax {
				t.Fatalf("lag %d: group at %d -> %d re-reads %d records", lagMax, g, tr, r)
			}
			if b := x.ReRead(g); r > b {
				t.Fatalf("lag %d: ReRead(%d) = %d under the true %d", lagMax, g, b, r)
			}
			worst = max(worst, r)
		}
		if lagMax > 0 && worst == 0 {
			t.Fatalf("lag %d: no re-reads at all; the simulation is not exercising the bound", lagMax)
		}
		t.Logf("offset.lag.max=%d: %d syncs for %d records, worst re-read %d", lagMax, len(c.syncs), len(c.ups), worst)
	}
}

func TestTranslateEdges(t *testing.T) {
	var x Index
	if _, ok := x.Translate(5); ok {
		t.Fatal("translated with no syncs")
	}
	x.Add(Sync{10, 100})
	x.Add(Sync{20, 111})
	for _, tc := range []struct {
		g    int64
		want int64
		ok   bool
	}{{9, 0, false}, {10, 100, true}, {11, 101, true}, {19, 101, true}, {20, 111, true}, {500, 112, true}} {
		got, ok := x.Translate(tc.g)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Translate(%d) = %d,%v want %d,%v", tc.g, got, ok, tc.want, tc.ok)
		}
	}
	x.Add(Sync{20, 111}) // a re-emitted sync changes nothing
	if len(x.Syncs) != 2 {
		t.Fatalf("duplicate kept: %v", x.Syncs)
	}
	x.Add(Sync{5, 300}) // source rewound: history forgotten
	if len(x.Syncs) != 1 || x.Syncs[0] != (Sync{5, 300}) {
		t.Fatalf("after an upstream rewind: %v", x.Syncs)
	}
	x.Add(Sync{9, 310})
	x.Add(Sync{12, 305}) // target truncated below 310
	if len(x.Syncs) != 2 || x.Syncs[1] != (Sync{12, 305}) {
		t.Fatalf("after a downstream rewind: %v", x.Syncs)
	}
}

func TestThinKeepsDenseTailAndGroups(t *testing.T) {
	var x Index
	for i := int64(0); i < 10000; i++ {
		x.Add(Sync{i * 10, i * 11})
	}
	groups := []int64{55, 12345, 50001}
	want := map[int64]int64{}
	for _, g := range groups {
		want[g], _ = x.Translate(g)
	}
	x.Thin(1000, 500, groups)
	if len(x.Syncs) != 1000 {
		t.Fatalf("thinned to %d syncs, want 1000", len(x.Syncs))
	}
	for _, g := range groups {
		if got, _ := x.Translate(g); got != want[g] {
			t.Errorf("group at %d: translation moved from %d to %d", g, want[g], got)
		}
	}
	// The newest 500 syncs are untouched: re-reads there stay at most 9.
	for g := int64(95000); g < 100000; g++ {
		if r := x.ReRead(g); r > 9 {
			t.Fatalf("dense tail lost precision at %d: %d", g, r)
		}
	}
	if x.Syncs[0] != (Sync{0, 0}) {
		t.Fatalf("the oldest sync was dropped: %v", x.Syncs[0])
	}
	// Older history is coarser, and more so the older it is.
	for i := 1; i < len(x.Syncs); i++ {
		if d := x.Syncs[i].Up - x.Syncs[i-1].Up; d > 100000-x.Syncs[i].Up {
			t.Fatalf("gap of %d source offsets at %v, %d behind the newest", d, x.Syncs[i], 100000-x.Syncs[i].Up)
		}
	}
}

// A deployment that runs for a long time keeps thinning its index as the
// checkpoint function does every run; a group lagging behind must still
// get a translation whose re-read is a small fraction of its lag, however
// old the deployment (with evenly spaced thinning, a group 300,000 records
// behind re-read tens of thousands once the history was long enough).
func TestThinKeepsReReadsRelativeToLagAsHistoryGrows(t *testing.T) {
	const (
		lagMax  = 100
		step    = lagMax + 1 // a sync every offset.lag.max+1 records
		total   = 400000     // syncs written over the deployment's life
		perRun  = 1000       // syncs a run adds before it thins
		maxS    = DefaultMaxSyncs
		dense   = DefaultDense
		allowed = 0.01 // of the lag, beyond offset.lag.max
	)
	var x Index
	for i := int64(0); i < total; i++ {
		x.Add(Sync{i * step, i * (step + 1)})
		if (i+1)%perRun == 0 {
			x.Thin(maxS, dense, nil)
		}
	}
	x.Thin(maxS, dense, nil)
	if len(x.Syncs) != maxS {
		t.Fatalf("%d syncs kept, want %d", len(x.Syncs), maxS)
	}
	head := x.Syncs[len(x.Syncs)-1].Up
	worst := 0.0
	for lag := int64(1); lag < head; lag = lag*11/10 + 1 {
		g := head - lag
		r := x.ReRead(g)
		if r <= lagMax {
			continue
		}
		frac := float64(r-lagMax) / float64(lag)
		if frac > allowed {
			t.Fatalf("a group %d records behind re-reads %d (%.2f%% of its lag, allowed %.0f%% beyond %d)", lag, r, 100*frac, 100*allowed, lagMax)
		}
		worst = max(worst, frac)
	}
	if worst == 0 {
		t.Fatal("no lagging group re-read more than offset.lag.max: the history did not get thinned")
	}
	// The dense tail keeps the exact bound.
	for g := x.Syncs[len(x.Syncs)-dense].Up; g <= head; g++ {
		if r := x.ReRead(g); r > lagMax {
			t.Fatalf("dense tail: group at %d re-reads %d", g, r)
		}
	}
	t.Logf("history of %d records in %d syncs: worst re-read beyond offset.lag.max %.3f%% of the lag", head, len(x.Syncs), 100*worst)
}

func TestIndexEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := simulate(rng, 3000, 10)
	x := Index{Syncs: c.syncs}
	b, _ := x.MarshalBinary()
	var y Index
	if err := y.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(y.Syncs) != len(x.Syncs) {
		t.Fatalf("round trip: %d syncs, want %d", len(y.Syncs), len(x.Syncs))
	}
	for i := range x.Syncs {
		if x.Syncs[i] != y.Syncs[i] {
			t.Fatalf("round trip: sync %d = %v, want %v", i, y.Syncs[i], x.Syncs[i])
		}
	}
	t.Logf("%d syncs in %d bytes", len(x.Syncs), len(b))
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5, 2}, append(b[:len(b):len(b)], 0), {1, 2, 4, 4, 0, 0}} {
		if err := y.UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted % x", bad)
		}
	}
}
