package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// hostileCount is a 1 MiB state value of the given version byte whose
// count field claims count entries, followed by a byte that ends the
// decoding at the first entry.
func hostileCount(version byte, count uint64) []byte {
	const size = 1 << 20
	b := binary.AppendUvarint([]byte{version}, count)
	b = append(b, 0xff) // an unterminated varint: the first entry is cut short
	return append(b, make([]byte, size-len(b))...)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A state record is read from the target, which anyone allowed to write the
// state topic can fill: its count field must not decide how much the
// decoder allocates. Before the fix, decodeGroup made a map sized by the
// count (about 100 MiB for a 1 MiB record counting 1 Mi entries) and
// Index.UnmarshalBinary a slice of 16 bytes per counted sync.
func TestStateDecodeDoesNotAllocateFromCount(t *testing.T) {
	for _, count := range []uint64{1<<20 - 8, 1 << 17} {
		for _, tc := range []struct {
			name   string
			value  []byte
			decode func([]byte) error
		}{
			{"group", hostileCount(stateV1, count), func(b []byte) error { _, err := decodeGroup(b); return err }},
			{"index", hostileCount(1, count), func(b []byte) error { return (&offsetsync.Index{}).UnmarshalBinary(b) }},
		} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, count), func(t *testing.T) {
				var err error
				n := allocated(func() { err = tc.decode(tc.value) })
				if err == nil {
					t.Fatal("a cut-short record decoded")
				}
				if n > 256<<10 {
					t.Errorf("decoding a 1 MiB record counting %d entries allocated %d KiB", count, n>>10)
				}
			})
		}
	}
	if _, err := decodeGroup(hostileCount(stateV1, 1<<17)); !errors.Is(err, errBadState) {
		t.Errorf("err = %v, want errBadState", err)
	}
}
