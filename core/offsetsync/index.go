package offsetsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Sync is one point of a partition's offset mapping: the source record at
// Up was copied to the target offset Down.
type Sync struct{ Up, Down int64 }

// Index is one source partition's translation history: offset syncs in
// ascending order of both offsets.
//
// Translation follows MM2 (reference mm2.md §3.2): the newest sync at or
// below the group's offset g gives Down when g == Up and Down+1 when g is
// past it (never extrapolated: records between two syncs may have been
// skipped); with no sync at or below g there is no translation.
//
// Error bound. The mirror writes a sync whenever the target offset is
// offset.lag.max or more past the previous sync (and for the first and the
// last record of every transaction), so two neighbouring syncs are at most
// offset.lag.max+1 target offsets apart, and a consumer that fails over at
// a translated offset re-reads at most offset.lag.max records it had
// already processed. The index keeps that density for its newest Dense
// syncs. Beyond them it drops the syncs whose removal costs least relative
// to how far they are behind the newest one, so the spacing grows
// geometrically with lag, like MM2's 64 exponentially spaced slots but with
// thousands of them: a group lagging L records behind the newest sync
// re-reads at most offset.lag.max + about L*((H/D)^(1/(MaxSyncs-Dense))-1)
// records, where H/D is the history's length over the dense window's
// (under 1% of L at the defaults for H/D up to a million). The bound does
// not degrade as a deployment ages: old history gets coarser, recent
// history keeps its precision. Syncs that a group currently sits on are
// never dropped, so a group that does not move keeps its translation.
type Index struct {
	Syncs []Sync
}

// Default sizes of an Index. At 16 bytes a sync before compression, the
// full index of a partition is at most about 64 KiB.
const (
	DefaultMaxSyncs = 4096
	DefaultDense    = 2048
)

// Add folds a newer sync into the index. A sync whose source offset is
// below the newest one means the source was rewound (topic recreated,
// positions reset): everything after it is forgotten, as MM2 does. A
// target offset below the newest one means the target was truncated:
// syncs pointing past it are dropped.
func (x *Index) Add(s Sync) {
	if s.Up < 0 || s.Down < 0 {
		return
	}
	n := len(x.Syncs)
	if n > 0 {
		last := x.Syncs[n-1]
		switch {
		case s == last:
			return
		case s.Up < last.Up:
			x.Syncs = x.Syncs[:0]
		case s.Down < last.Down || s.Up == last.Up:
			i := sort.Search(n, func(i int) bool { return x.Syncs[i].Down >= s.Down || x.Syncs[i].Up >= s.Up })
			x.Syncs = x.Syncs[:i]
		}
	}
	x.Syncs = append(x.Syncs, s)
}

// Translate maps a source group offset to the target offset a consumer
// should resume from. ok is false when the index holds no sync at or
// below g: the group is older than the retained history, or nothing of the
// partition was copied yet.
func (x *Index) Translate(g int64) (down int64, ok bool) {
	i := x.floor(g)
	if i < 0 {
		return 0, false
	}
	s := x.Syncs[i]
	if g == s.Up {
		return s.Down, true
	}
	return s.Down + 1, true
}

// ReRead bounds how many already processed records a consumer at g re-reads
// after seeking to Translate(g): the source offsets strictly between the
// chosen sync and g (an upper bound: some may be markers or gaps).
func (x *Index) ReRead(g int64) int64 {
	i := x.floor(g)
	if i < 0 || g <= x.Syncs[i].Up {
		return 0
	}
	return g - x.Syncs[i].Up - 1
}

// floor is the index of the newest sync with Up <= g, or -1.
func (x *Index) floor(g int64) int {
	return sort.Search(len(x.Syncs), func(i int) bool { return x.Syncs[i].Up > g }) - 1
}

// Thin bounds the index to maxSyncs syncs. The newest dense syncs and, for
// every offset in keep, the sync that offset translates through, are never
// dropped. Among the others, the sync whose removal widens the gap between
// its neighbours least relative to its distance from the newest sync goes
// first, which spaces old history geometrically: a lagging group's re-read
// stays a small fraction of its lag however long the history grows.
func (x *Index) Thin(maxSyncs, dense int, keep []int64) {
	n := len(x.Syncs)
	if n <= maxSyncs || maxSyncs < 2 {
		return
	}
	protected := make([]bool, n)
	protected[0] = true // the oldest bounds how far back translation reaches
	for i := max(0, n-dense); i < n; i++ {
		protected[i] = true
	}
	for _, g := range keep {
		if i := x.floor(g); i >= 0 {
			protected[i] = true
		}
	}
	type cand struct {
		i    int
		cost float64
	}
	head := x.Syncs[n-1].Up
	for len(x.Syncs) > maxSyncs {
		n = len(x.Syncs)
		var cs []cand
		for i := 1; i < n-1; i++ {
			if !protected[i] {
				// Dropping i makes groups in [Up[i], Up[i+1]) translate
				// through Up[i-1]: their re-read grows to at most the gap,
				// and the least lagging of them is head-Up[i+1]+1 behind.
				gap := float64(x.Syncs[i+1].Up - x.Syncs[i-1].Up)
				cs = append(cs, cand{i, gap / float64(head-x.Syncs[i+1].Up+1)})
			}
		}
		if len(cs) == 0 {
			return // everything left is protected
		}
		sort.Slice(cs, func(a, b int) bool { return cs[a].cost < cs[b].cost || cs[a].cost == cs[b].cost && cs[a].i < cs[b].i })
		// Drop up to the excess in one pass, never two neighbours at once
		// (the second's gap would be stale).
		drop := make([]bool, n)
		excess := n - maxSyncs
		for _, c := range cs {
			if excess == 0 {
				break
			}
			if drop[c.i-1] || drop[c.i+1] {
				continue
			}
			drop[c.i] = true
			excess--
		}
		kept, kp := x.Syncs[:0], protected[:0]
		for i, s := range x.Syncs {
			if !drop[i] {
				kept = append(kept, s)
				kp = append(kp, protected[i])
			}
		}
		x.Syncs, protected = kept, kp
	}
}

// indexVersion is the first byte of an encoded Index.
const indexVersion = 1

// MarshalBinary encodes the index compactly: a version byte, the count,
// then each sync as varint deltas from the previous one.
func (x *Index) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*(1+2*len(x.Syncs))/4)
	b = append(b, indexVersion)
	b = binary.AppendUvarint(b, uint64(len(x.Syncs)))
	var pu, pd int64
	for _, s := range x.Syncs {
		b = binary.AppendVarint(b, s.Up-pu)
		b = binary.AppendVarint(b, s.Down-pd)
		pu, pd = s.Up, s.Down
	}
	return b, nil
}

// ErrBadIndex is returned for an encoded index that cannot be read.
var ErrBadIndex = errors.New("offsetsync: malformed index")

// UnmarshalBinary decodes MarshalBinary's output, checking that the syncs
// are non-negative and ascending.
func (x *Index) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != indexVersion {
		return fmt.Errorf("%w: unknown version", ErrBadIndex)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("%w: bad count", ErrBadIndex)
	}
	b = b[k:]
	// A sync takes at least two bytes (two varints), so a count the bytes
	// left cannot hold is malformed. The slice is not sized from the
	// count: the record comes from the target, and it grows with the
	// syncs that decode.
	if n > uint64(len(b)/2) {
		return fmt.Errorf("%w: bad count", ErrBadIndex)
	}
	var syncs []Sync
	var pu, pd int64
	for i := uint64(0); i < n; i++ {
		du, k1 := binary.Varint(b)
		if k1 <= 0 {
			return fmt.Errorf("%w: truncated", ErrBadIndex)
		}
		dd, k2 := binary.Varint(b[k1:])
		if k2 <= 0 {
			return fmt.Errorf("%w: truncated", ErrBadIndex)
		}
		b = b[k1+k2:]
		s := Sync{pu + du, pd + dd}
		if s.Up < 0 || s.Down < 0 || (i > 0 && (du <= 0 || dd <= 0)) {
			return fmt.Errorf("%w: syncs out of order", ErrBadIndex)
		}
		syncs = append(syncs, s)
		pu, pd = s.Up, s.Down
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadIndex, len(b))
	}
	x.Syncs = syncs
	return nil
}
