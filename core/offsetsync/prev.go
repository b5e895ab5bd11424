package offsetsync

import "encoding/binary"

// PrevHeader is the record header the mirror adds to an offset sync that
// follows another of the same partition: its value is the previous sync's
// source offset (INT64) and the Kind of the range between them (INT8).
// MM2 reads only an offset sync's key and value, so the header changes
// nothing for it; it lets mirrorless' checkpoint translate exactly between
// two syncs it knows are neighbours (Index.AddAfter).
const PrevHeader = "mirrorless.prev"

// EncodePrev is PrevHeader's value.
func EncodePrev(prevUp int64, k Kind) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(prevUp))
	return append(b, byte(k))
}

// DecodePrev reads PrevHeader's value; ok is false for anything that is
// not exactly what EncodePrev writes.
func DecodePrev(b []byte) (prevUp int64, k Kind, ok bool) {
	if len(b) != 9 || b[8] > byte(Adjacent) {
		return 0, Unknown, false
	}
	prevUp = int64(binary.BigEndian.Uint64(b))
	if prevUp < 0 {
		return 0, Unknown, false
	}
	return prevUp, Kind(b[8]), true
}
