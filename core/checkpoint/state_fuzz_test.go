package checkpoint

import (
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// FuzzStateRecord: the checkpoint function's state records are read from
// the target, which anyone allowed to write the state topic can fill.
// Whatever the key and value, folding a record never panics and never
// allocates from a length field (the count of a group or index is bounded
// by the bytes left, see TestStateDecodeDoesNotAllocateFromCount), and
// what it accepts re-encodes to an equal value.
func FuzzStateRecord(f *testing.F) {
	x := &offsetsync.Index{}
	x.Add(offsetsync.Sync{Up: 10, Down: 5})
	x.Add(offsetsync.Sync{Up: 20, Down: 9})
	idx, _ := x.MarshalBinary()
	f.Add("position", encodePosition(42))
	f.Add(indexKey(tp{"orders", 3}), idx)
	f.Add(prefixGroup+"g1", encodeGroup(map[tp]emitted{{"orders", 0}: {100, 42}, {"a/b", 7}: {1, 1}}))
	f.Add(prefixGroup+"g1", hostileCount(stateV1, 1<<17)[:64])                   // count far past the bytes
	f.Add(indexKey(tp{"orders", 0}), hostileCount(1, 1<<17)[:64])                // the same for an index
	f.Add(prefixGroup+"g", binary.AppendUvarint([]byte{stateV1}, 1<<62))         // count with no entries
	f.Add(prefixGroup+"g", []byte{stateV1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0})     // partition out of range
	f.Add(prefixGroup+"g", []byte("\x01\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b\x9b00")) // a count varint past 64 bits (panicked)
	f.Add("index/t/-1", idx)
	f.Add("other", []byte{})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		s := newState()
		if err := s.apply(key, value); err != nil {
			if s.skipped != 1 {
				t.Fatalf("refused record counted %d times", s.skipped)
			}
			return
		}
		switch {
		case key == keyPosition:
			if got, err := decodePosition(encodePosition(s.position)); err != nil || got != s.position {
				t.Fatalf("position %d re-reads as %d, %v", s.position, got, err)
			}
		case strings.HasPrefix(key, prefixIndex):
			tp, _ := parseIndexKey(key)
			if value == nil {
				return
			}
			b, err := s.index[tp].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			y := &offsetsync.Index{}
			if err := y.UnmarshalBinary(b); err != nil || !slices.Equal(y.Syncs, s.index[tp].Syncs) {
				t.Fatalf("index %v re-reads as %v, %v", s.index[tp].Syncs, y.Syncs, err)
			}
		case strings.HasPrefix(key, prefixGroup):
			if value == nil {
				return
			}
			m := s.groups[strings.TrimPrefix(key, prefixGroup)]
			if len(m) > len(value)/minGroupEntry {
				t.Fatalf("%d entries from %d bytes", len(m), len(value))
			}
			got, err := decodeGroup(encodeGroup(m))
			if err != nil || !maps.Equal(got, m) {
				t.Fatalf("group %v re-reads as %v, %v", m, got, err)
			}
		}
	})
}
