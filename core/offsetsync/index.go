package offsetsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Sync is one point of a partition's offset mapping: the source record at
// Up was copied to the target offset Down. Kind says what the index knows
// about the records between the previous sync and this one.
type Sync struct {
	Up, Down int64
	Kind     Kind
}

// Kind is what a sync certifies about the range from the previous sync of
// its partition (exclusive) to itself (inclusive).
type Kind uint8

const (
	// Unknown: records between the two syncs may have been skipped,
	// duplicated or never copied (syncs written by MirrorMaker 2, syncs
	// whose predecessor was compacted away or thinned out). Translation
	// falls back to MM2's rule: never past the previous sync + 1.
	Unknown Kind = iota
	// Linear: every source offset between the two syncs is a record
	// copied one to one in the same target transaction, so target offset
	// = Down of the previous sync + (source offset - its Up).
	Linear
	// Adjacent: no copied record lies between the two syncs (the source
	// offsets between them are transaction markers, aborted or compacted
	// records, or offsets a reset policy skipped), so every source offset
	// after the previous sync up to this one translates to this one.
	Adjacent
)

// Index is one source partition's translation history: offset syncs in
// ascending order of both offsets.
//
// Exact translation. The mirror writes a sync on both sides of every
// discontinuity of its copy — every source gap (transaction markers,
// aborted records, compaction, a reset), and the first and the last record
// of each of its transactions (the target's own commit markers are gaps on
// the other side) — and tells, in a header of each sync after the first of
// a transaction, the previous sync's source offset and whether the records
// from it were copied one to one (Linear) or are a gap (Adjacent). Between
// two such syncs the mapping is then known exactly, and a group at any
// source offset g maps to the target offset of the first copied record at
// or after g: nothing re-read, nothing skipped.
//
// Conservative translation (MM2's rule, reference mm2.md §3.2) applies
// wherever the index does not know the range: the newest sync at or below
// g gives Down when g == Up and Down+1 when g is past it (never
// extrapolated: records between two syncs may have been skipped). With no
// sync at or below g there is no translation.
//
// Thinning. The index keeps at most MaxSyncs syncs. Dropping a sync inside
// a linear run loses nothing (the merged range stays linear) and goes
// first. Beyond that it keeps the newest Dense syncs and drops the ones
// whose removal costs least relative to how far they are behind the newest
// one, so old history gets coarser geometrically (a group lagging L
// records behind re-reads at most about L*((H/D)^(1/(MaxSyncs-Dense))-1)
// records there). Syncs that a group currently sits on are never dropped.
type Index struct {
	Syncs []Sync
	// Ours: the index holds a sync mirrorless wrote (in a transaction).
	// From then on syncs from outside a transaction are refused: they
	// were not written by the mirror (see AddRecord).
	Ours bool
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
// syncs pointing past it are dropped. Kind is kept only when it is
// consistent with the sync it then follows (Linear needs equal deltas);
// use AddAfter when the writer named the previous sync.
func (x *Index) Add(s Sync) {
	x.add(s, -1)
}

// AddAfter adds s, which its writer says follows the sync at source
// offset prevUp with s.Kind between them. When the index's newest sync is
// not at prevUp (it was compacted away, not read, or the writer was not
// the mirror), the range is Unknown.
func (x *Index) AddAfter(s Sync, prevUp int64) {
	x.add(s, prevUp)
}

func (x *Index) add(s Sync, prevUp int64) {
	if s.Up < 0 || s.Down < 0 {
		return
	}
	n := len(x.Syncs)
	if n > 0 {
		last := x.Syncs[n-1]
		switch {
		case s.Up == last.Up && s.Down == last.Down:
			return // a repeat (an idle unit's refresh)
		case s.Up < last.Up:
			x.Syncs = x.Syncs[:0]
		case s.Down < last.Down || s.Up == last.Up:
			i := sort.Search(n, func(i int) bool { return x.Syncs[i].Down >= s.Down || x.Syncs[i].Up >= s.Up })
			x.Syncs = x.Syncs[:i]
		}
	}
	if n = len(x.Syncs); n == 0 || prevUp < 0 || x.Syncs[n-1].Up != prevUp || !consistent(x.Syncs[n-1], s) {
		s.Kind = Unknown
	}
	x.Syncs = append(x.Syncs, s)
}

// consistent: s's kind is possible after prev.
func consistent(prev, s Sync) bool {
	switch s.Kind {
	case Linear:
		return s.Up-prev.Up == s.Down-prev.Down && s.Up > prev.Up
	case Adjacent:
		return s.Up > prev.Up && s.Down > prev.Down
	}
	return true
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
	if i+1 < len(x.Syncs) {
		switch nx := x.Syncs[i+1]; nx.Kind {
		case Linear:
			return s.Down + (g - s.Up), true
		case Adjacent:
			return nx.Down, true
		}
	}
	return s.Down + 1, true
}

// TranslateBack maps a target offset d (where a group stands on the
// copy) back to the source: the source offset of the first record copied
// at or after d, so a group failing back to the source resumes where it
// stopped on the copy. Exact inside ranges the index knows; elsewhere it
// errs early (never skipping), like Translate: d between two syncs of an
// unknown range gives the source offset after the first of them. ok is
// false when d is below every sync.
func (x *Index) TranslateBack(d int64) (up int64, ok bool) {
	i := sort.Search(len(x.Syncs), func(i int) bool { return x.Syncs[i].Down > d }) - 1
	if i < 0 {
		return 0, false
	}
	s := x.Syncs[i]
	if d == s.Down {
		return s.Up, true
	}
	if i+1 < len(x.Syncs) {
		switch nx := x.Syncs[i+1]; nx.Kind {
		case Linear:
			return s.Up + (d - s.Down), true
		case Adjacent:
			return nx.Up, true
		}
	}
	return s.Up + 1, true
}

// Exact: Translate(g) is exact (a consumer resuming there re-reads nothing
// and skips nothing), because g is on a sync or inside a range the index
// knows. Past the newest sync it is exact only if the source holds no
// record between that sync and g that was not copied yet.
func (x *Index) Exact(g int64) bool {
	i := x.floor(g)
	if i < 0 {
		return false
	}
	if g == x.Syncs[i].Up {
		return true
	}
	return i+1 < len(x.Syncs) && x.Syncs[i+1].Kind != Unknown
}

// ReRead bounds how many already processed records a consumer at g re-reads
// after seeking to Translate(g): 0 where the translation is exact, else the
// source offsets strictly between the chosen sync and g (an upper bound:
// some may be markers or gaps).
func (x *Index) ReRead(g int64) int64 {
	i := x.floor(g)
	if i < 0 || g <= x.Syncs[i].Up || x.Exact(g) {
		return 0
	}
	return g - x.Syncs[i].Up - 1
}

// floor is the index of the newest sync with Up <= g, or -1.
func (x *Index) floor(g int64) int {
	return sort.Search(len(x.Syncs), func(i int) bool { return x.Syncs[i].Up > g }) - 1
}

// merged is the kind of the range from a sync to b when the sync between
// them (whose kind is a) is dropped.
func merged(a, b Kind) Kind {
	if a == Linear && b == Linear {
		return Linear
	}
	return Unknown
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
			if merged(x.Syncs[i].Kind, x.Syncs[i+1].Kind) == Linear {
				// Inside a linear run: the merged range stays exact.
				cs = append(cs, cand{i, 0})
			} else if !protected[i] {
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
		skippedFree := false
		for _, c := range cs {
			if excess == 0 || c.cost > 0 && skippedFree {
				break // a free drop waits for the next pass: take it first
			}
			if drop[c.i-1] || drop[c.i+1] {
				skippedFree = skippedFree || c.cost == 0
				continue
			}
			drop[c.i] = true
			x.Syncs[c.i+1].Kind = merged(x.Syncs[c.i].Kind, x.Syncs[c.i+1].Kind)
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

// indexVersion is the first byte of an encoded Index. Version 1 (no kinds,
// every range Unknown) is still read.
const indexVersion = 2

// MarshalBinary encodes the index compactly: a version byte, a flags byte
// (1: Ours), the count, then each sync as varint deltas from the previous
// one and its kind.
func (x *Index) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 2+binary.MaxVarintLen64*(1+2*len(x.Syncs))/4+len(x.Syncs))
	b = append(b, indexVersion)
	var flags byte
	if x.Ours {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(x.Syncs)))
	var pu, pd int64
	for _, s := range x.Syncs {
		b = binary.AppendVarint(b, s.Up-pu)
		b = binary.AppendVarint(b, s.Down-pd)
		b = append(b, byte(s.Kind))
		pu, pd = s.Up, s.Down
	}
	return b, nil
}

// ErrBadIndex is returned for an encoded index that cannot be read.
var ErrBadIndex = errors.New("offsetsync: malformed index")

// UnmarshalBinary decodes MarshalBinary's output, checking that the syncs
// are non-negative and ascending.
func (x *Index) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] < 1 || b[0] > indexVersion {
		return fmt.Errorf("%w: unknown version", ErrBadIndex)
	}
	version := b[0]
	b = b[1:]
	ours := false
	if version >= 2 {
		if len(b) == 0 || b[0] > 1 {
			return fmt.Errorf("%w: bad flags", ErrBadIndex)
		}
		ours = b[0] == 1
		b = b[1:]
	}
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
		s := Sync{Up: pu + du, Down: pd + dd}
		if version >= 2 {
			if len(b) == 0 || b[0] > byte(Adjacent) || (i == 0 && b[0] != byte(Unknown)) {
				return fmt.Errorf("%w: bad kind", ErrBadIndex)
			}
			s.Kind = Kind(b[0])
			b = b[1:]
		}
		if s.Up < 0 || s.Down < 0 || (i > 0 && (du <= 0 || dd <= 0)) {
			return fmt.Errorf("%w: syncs out of order", ErrBadIndex)
		}
		if i > 0 && !consistent(syncs[i-1], s) {
			return fmt.Errorf("%w: sync kind does not fit its offsets", ErrBadIndex)
		}
		syncs = append(syncs, s)
		pu, pd = s.Up, s.Down
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadIndex, len(b))
	}
	x.Syncs, x.Ours = syncs, ours
	return nil
}
