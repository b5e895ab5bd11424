package offsetsync

import (
	"math/rand/v2"
	"testing"
)

// copied is one simulated replication: the target offset of every copied
// source offset, and the syncs a mirror following its rules writes (both
// sides of every discontinuity on either cluster — source gaps, and the
// first and the last record of each transaction — plus offset.lag.max
// syncs when lagMax >= 0), each with the predecessor it names.
type copied struct {
	down  map[int64]int64 // source offset -> target offset
	ups   []int64         // copied source offsets, ascending
	syncs []Sync
	prevs []int64 // the source offset each sync names as its predecessor, -1 none
}

func simulate(rng *rand.Rand, records int, lagMax int64) copied {
	c := copied{down: map[int64]int64{}}
	up, down := int64(0), int64(0)
	prevUp, prevDown := int64(-1), int64(-1)
	lastSyncUp, lastSyncDown := int64(-1), int64(-1)
	sync := func(u, d int64, k Kind) {
		if lastSyncUp < 0 {
			k = Unknown
		}
		c.syncs = append(c.syncs, Sync{Up: u, Down: d, Kind: k})
		c.prevs = append(c.prevs, lastSyncUp)
		lastSyncUp, lastSyncDown = u, d
	}
	for n := 0; n < records; {
		txn := 1 + rng.IntN(300)
		lastSynced := true
		for i := 0; i < txn && n < records; i, n = i+1, n+1 {
			if rng.IntN(20) == 0 {
				up += 1 + int64(rng.IntN(3)) // source markers, aborted records, compaction
			}
			c.down[up] = down
			c.ups = append(c.ups, up)
			switch {
			case prevUp < 0 || up-prevUp != 1 || down-prevDown != 1:
				if prevUp >= 0 && !lastSynced {
					sync(prevUp, prevDown, Linear)
				}
				sync(up, down, Adjacent)
				lastSynced = true
			case lagMax >= 0 && down-(lastSyncDown+1) >= lagMax:
				sync(up, down, Linear)
				lastSynced = true
			default:
				lastSynced = false
			}
			prevUp, prevDown = up, down
			up++
			down++
		}
		if !lastSynced {
			sync(prevUp, prevDown, Linear)
		}
		down++ // the target's commit marker
		if rng.IntN(10) == 0 {
			down += 1 + int64(rng.IntN(5)) // an aborted transaction of ours
		}
	}
	return c
}

// index adds the syncs as the checkpoint does, keeping each with
// probability keep (the rest were compacted away before it read them).
func (c copied) index(rng *rand.Rand, keep float64, kinds bool) *Index {
	var x Index
	for i, s := range c.syncs {
		if rng.Float64() >= keep {
			continue
		}
		if kinds {
			x.AddAfter(s, c.prevs[i])
		} else {
			x.Add(Sync{Up: s.Up, Down: s.Down})
		}
	}
	return &x
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

// The rule that makes translation exact: with a sync on both sides of every
// discontinuity and each naming its predecessor, every source offset from
// the first copied record to the log end translates to the target offset of
// the first copied record at or after it (the target offset after the last
// copy at the end): nothing re-read, nothing skipped, with or without
// offset.lag.max syncs.
func TestTranslateExact(t *testing.T) {
	for _, lagMax := range []int64{-1, 0, 10, 100} {
		rng := rand.New(rand.NewPCG(uint64(lagMax+1), 7))
		c := simulate(rng, 5000, lagMax)
		x := c.index(rng, 1, true)
		last := c.ups[len(c.ups)-1]
		j := 0 // c.ups[j] is the first copied offset >= g
		for g := c.ups[0]; g <= last+1; g++ {
			for j < len(c.ups) && c.ups[j] < g {
				j++
			}
			want := c.down[last] + 1
			if j < len(c.ups) {
				want = c.down[c.ups[j]]
			}
			got, ok := x.Translate(g)
			if !ok || got != want {
				t.Fatalf("offset.lag.max %d: group at %d -> %d,%v, want %d", lagMax, g, got, ok, want)
			}
			if l, r := c.lost(got, g), c.reReads(got, g); l != 0 || r != 0 {
				t.Fatalf("offset.lag.max %d: group at %d -> %d skips %d and re-reads %d", lagMax, g, got, l, r)
			}
			if g <= last && (!x.Exact(g) || x.ReRead(g) != 0) {
				t.Fatalf("offset.lag.max %d: group at %d: Exact %v ReRead %d", lagMax, g, x.Exact(g), x.ReRead(g))
			}
		}
		t.Logf("offset.lag.max=%d: %d syncs for %d records", lagMax, len(c.syncs), len(c.ups))
	}
}

// Syncs whose predecessor the checkpoint did not read (compacted away) or
// that name none (MM2's) fall back to MM2's rule: never a record skipped,
// re-reads bounded by the distance to the previous sync.
func TestTranslateMissingSyncsNeverSkip(t *testing.T) {
	for _, keep := range []float64{0.3, 0.7, 0.95} {
		rng := rand.New(rand.NewPCG(uint64(keep*100), 9))
		c := simulate(rng, 3000, -1)
		x := c.index(rng, keep, true)
		if len(x.Syncs) == 0 {
			continue
		}
		last := c.ups[len(c.ups)-1]
		for g := x.Syncs[0].Up; g <= last+1; g++ {
			got, ok := x.Translate(g)
			if !ok {
				t.Fatalf("keep %.2f: no translation for %d", keep, g)
			}
			if l := c.lost(got, g); l != 0 {
				t.Fatalf("keep %.2f: group at %d -> %d skips %d records", keep, g, got, l)
			}
			if r := c.reReads(got, g); r > x.ReRead(g) {
				t.Fatalf("keep %.2f: group at %d re-reads %d, ReRead says at most %d", keep, g, r, x.ReRead(g))
			}
		}
	}
}

// MM2's rule for syncs that certify nothing (written by MM2 with its
// offset.lag.max): re-reads at most offset.lag.max records, none skipped.
func TestTranslateConservativeReReadsAtMostLagMax(t *testing.T) {
	for _, lagMax := range []int64{0, 1, 10, 100} {
		rng := rand.New(rand.NewPCG(uint64(lagMax), 7))
		c := simulate(rng, 5000, lagMax)
		x := c.index(rng, 1, false)
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
		if lagMax >= 10 && worst == 0 {
			t.Fatalf("lag %d: no re-reads at all; the simulation is not exercising the bound", lagMax)
		}
	}
}

// Thinning a linear run loses nothing: translation stays exact.
func TestThinLinearRunsStayExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := simulate(rng, 20000, 10)
	x := c.index(rng, 1, true)
	n := len(x.Syncs)
	want := map[int64]int64{}
	for g := c.ups[0]; g <= c.ups[len(c.ups)-1]; g++ {
		want[g], _ = x.Translate(g)
	}
	// Syncs that border anything but a linear run on both sides cannot go
	// without a loss; every other one can.
	essential := 2
	for i := 1; i < n-1; i++ {
		if merged(x.Syncs[i].Kind, x.Syncs[i+1].Kind) != Linear {
			essential++
		}
	}
	if essential > n*9/10 {
		t.Fatalf("%d of %d syncs essential: the simulation has too few linear runs", essential, n)
	}
	x.Thin(essential, essential/2, nil)
	if len(x.Syncs) != essential {
		t.Fatalf("thinned %d syncs to %d, want %d", n, len(x.Syncs), essential)
	}
	for g, w := range want {
		if got, _ := x.Translate(g); got != w {
			t.Fatalf("group at %d: %d after thinning, %d before", g, got, w)
		}
	}
	t.Logf("%d syncs thinned to %d, every translation unchanged", n, len(x.Syncs))
}

func TestTranslateEdges(t *testing.T) {
	var x Index
	if _, ok := x.Translate(5); ok {
		t.Fatal("translated with no syncs")
	}
	x.Add(Sync{Up: 10, Down: 100})
	x.Add(Sync{Up: 20, Down: 111})
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
	x.Add(Sync{Up: 20, Down: 111}) // a re-emitted sync changes nothing
	if len(x.Syncs) != 2 {
		t.Fatalf("duplicate kept: %v", x.Syncs)
	}
	x.Add(Sync{Up: 5, Down: 300}) // source rewound: history forgotten
	if len(x.Syncs) != 1 || x.Syncs[0] != (Sync{Up: 5, Down: 300}) {
		t.Fatalf("after an upstream rewind: %v", x.Syncs)
	}
	x.Add(Sync{Up: 9, Down: 310})
	x.Add(Sync{Up: 12, Down: 305}) // target truncated below 310
	if len(x.Syncs) != 2 || x.Syncs[1] != (Sync{Up: 12, Down: 305}) {
		t.Fatalf("after a downstream rewind: %v", x.Syncs)
	}
}

func TestThinKeepsDenseTailAndGroups(t *testing.T) {
	var x Index
	for i := int64(0); i < 10000; i++ {
		x.Add(Sync{Up: i * 10, Down: i * 11})
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
	if x.Syncs[0] != (Sync{Up: 0, Down: 0}) {
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
		x.Add(Sync{Up: i * step, Down: i * (step + 1)})
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
	x := c.index(rng, 1, true)
	x.Ours = true
	b, _ := x.MarshalBinary()
	var y Index
	if err := y.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(y.Syncs) != len(x.Syncs) || !y.Ours {
		t.Fatalf("round trip: %d syncs ours %v, want %d ours", len(y.Syncs), y.Ours, len(x.Syncs))
	}
	for i := range x.Syncs {
		if x.Syncs[i] != y.Syncs[i] {
			t.Fatalf("round trip: sync %d = %v, want %v", i, y.Syncs[i], x.Syncs[i])
		}
	}
	t.Logf("%d syncs in %d bytes", len(x.Syncs), len(b))
	// Version 1 (before kinds) is still read: every range Unknown.
	var v1 Index
	if err := v1.UnmarshalBinary([]byte{1, 2, 20, 22, 2, 4}); err != nil || len(v1.Syncs) != 2 || v1.Syncs[1] != (Sync{Up: 11, Down: 13}) || v1.Ours {
		t.Fatalf("version 1: %v %+v", err, v1)
	}
	for _, bad := range [][]byte{nil, {3}, {1}, {1, 5, 2}, append(b[:len(b):len(b)], 0), {1, 2, 4, 4, 0, 0},
		{2, 2, 1, 0, 0, 0},          // bad flags
		{2, 0, 1, 0, 0, 1},          // the first sync has a kind
		{2, 0, 2, 0, 0, 0, 2, 4, 1}, // linear with unequal deltas
		{2, 0, 2, 0, 0, 0, 2, 2, 3}, // unknown kind
		{2, 0, 2, 0, 0, 0, 2, 2}} {  // kind missing
		if err := y.UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted % x", bad)
		}
	}
}

// Failing back: a group at any target offset of the copy maps to the
// source offset of the first record copied at or after it, exactly where
// the index knows the range, and never past it where it does not.
func TestTranslateBack(t *testing.T) {
	for _, keep := range []float64{1, 0.5} {
		rng := rand.New(rand.NewPCG(11, uint64(keep*10)))
		c := simulate(rng, 3000, -1)
		x := c.index(rng, keep, true)
		if len(x.Syncs) == 0 {
			t.Fatal("no syncs")
		}
		first, last := x.Syncs[0].Down, c.down[c.ups[len(c.ups)-1]]
		j := 0
		for d := first; d <= last+1; d++ {
			for j < len(c.ups) && c.down[c.ups[j]] < d {
				j++
			}
			want := c.ups[len(c.ups)-1] + 1
			if j < len(c.ups) {
				want = c.ups[j]
			}
			got, ok := x.TranslateBack(d)
			if !ok {
				t.Fatalf("keep %.1f: no translation back for %d", keep, d)
			}
			if keep == 1 && got != want {
				t.Fatalf("target offset %d -> source %d, want %d", d, got, want)
			}
			if got > want {
				t.Fatalf("keep %.1f: target offset %d -> source %d, past the first record copied at or after it (%d): skips", keep, d, got, want)
			}
		}
	}
}
