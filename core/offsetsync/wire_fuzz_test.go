package offsetsync

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// The decoders read records from internal topics that anyone with write
// access can fill: whatever the bytes, they must return a value or an
// error, never panic. A record they accept must be what its encoding says:
// re-encoding the decoded value gives back the bytes it was read from
// (up to the trailing bytes readers ignore, see the package comment).

func FuzzDecodeOffsetSync(f *testing.F) {
	s := OffsetSync{Topic: "orders", Partition: 3, Upstream: 100, Downstream: 42}
	f.Add(s.Key(), s.Value())
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xff, 0xff, 0, 0, 0, 0}, make([]byte, 16))
	f.Add([]byte{0x7f, 0xff, 'x'}, make([]byte, 15))
	f.Add(append(s.Key(), 9, 9), append(s.Value(), 1))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		got, err := DecodeOffsetSync(key, value)
		if err != nil {
			return
		}
		if k := got.Key(); !bytes.HasPrefix(key, k) {
			t.Fatalf("decoded %+v from key % x; it encodes as % x", got, key, k)
		}
		if v := got.Value(); !bytes.HasPrefix(value, v) {
			t.Fatalf("decoded %+v from value % x; it encodes as % x", got, value, v)
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	c := Checkpoint{Group: "g1", Topic: "A.orders", Partition: 3, Upstream: 100, Downstream: 42, Metadata: "m"}
	f.Add(c.Key(), c.Value())
	f.Add([]byte{}, []byte{})
	f.Add(c.Key(), append([]byte{0, 1}, make([]byte, 18)...))   // version 1
	f.Add(c.Key(), append(make([]byte, 18), 0, 5, 'x'))         // metadata cut short
	f.Add([]byte{0, 2, 'g'}, c.Value())                         // group cut short
	f.Add(c.Key(), append(make([]byte, 18), 0x80, 0x00))        // negative length
	f.Add(append(c.Key(), 1, 2, 3), append(c.Value(), 4, 5, 6)) // trailing bytes
	f.Fuzz(func(t *testing.T, key, value []byte) {
		got, err := DecodeCheckpoint(key, value)
		if err != nil {
			return
		}
		if k := got.Key(); !bytes.HasPrefix(key, k) {
			t.Fatalf("decoded %+v from key % x; it encodes as % x", got, key, k)
		}
		if v := got.Value(); !bytes.HasPrefix(value, v) {
			t.Fatalf("decoded %+v from value % x; it encodes as % x", got, value, v)
		}
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	h := Heartbeat{Source: "A", Target: "B", TimestampMs: 0x0102030405}
	f.Add(h.Key(), h.Value())
	f.Add([]byte{}, []byte{})
	f.Add(h.Key(), append([]byte{0, 7}, make([]byte, 8)...)) // version 7
	f.Add(h.Key(), []byte{0, 0, 1})                          // timestamp cut short
	f.Add([]byte{0, 1, 'A', 0xff, 0xfe}, h.Value())          // negative length
	f.Fuzz(func(t *testing.T, key, value []byte) {
		got, err := DecodeHeartbeat(key, value)
		if err != nil {
			return
		}
		if k := got.Key(); !bytes.HasPrefix(key, k) {
			t.Fatalf("decoded %+v from key % x; it encodes as % x", got, key, k)
		}
		if v := got.Value(); !bytes.HasPrefix(value, v) {
			t.Fatalf("decoded %+v from value % x; it encodes as % x", got, value, v)
		}
	})
}

// FuzzWireRoundTrip: decode(encode(x)) == x for every value the encoders
// accept (strings up to Kafka's INT16 length limit, any bytes); a
// checkpoint whose group, topic or metadata is longer is refused by Check
// (the checkpoint function checks before encoding, since a source group
// may be that long; issue 18).
func FuzzWireRoundTrip(f *testing.F) {
	f.Add("orders", "g1", int32(3), int64(100), int64(42), "")
	f.Add("", "", int32(-1), int64(-1), int64(math.MinInt64), "meta\x00data")
	f.Add("A.t\xff", "é", int32(math.MaxInt32), int64(math.MaxInt64), int64(0), "x")
	f.Add(strings.Repeat("g", 40_000), "t", int32(0), int64(1), int64(1), "")
	f.Add("g", "t", int32(0), int64(1), int64(1), strings.Repeat("m", MaxString+1))
	f.Fuzz(func(t *testing.T, a, b string, p int32, up, down int64, meta string) {
		tooLong := len(a) > MaxString || len(b) > MaxString || len(meta) > MaxString
		c := Checkpoint{Group: a, Topic: b, Partition: p, Upstream: up, Downstream: down, Metadata: meta}
		if err := c.Check(); tooLong != errors.Is(err, ErrTooLong) {
			t.Fatalf("Check of a checkpoint with strings of %d, %d and %d bytes: %v", len(a), len(b), len(meta), err)
		}
		if tooLong {
			return
		}
		s := OffsetSync{Topic: a, Partition: p, Upstream: up, Downstream: down}
		if got, err := DecodeOffsetSync(s.Key(), s.Value()); err != nil || got != s {
			t.Fatalf("offset sync %+v decodes as %+v, %v", s, got, err)
		}
		if got, err := DecodeCheckpoint(c.Key(), c.Value()); err != nil || got != c {
			t.Fatalf("checkpoint %+v decodes as %+v, %v", c, got, err)
		}
		h := Heartbeat{Source: a, Target: b, TimestampMs: up}
		if got, err := DecodeHeartbeat(h.Key(), h.Value()); err != nil || got != h {
			t.Fatalf("heartbeat %+v decodes as %+v, %v", h, got, err)
		}
	})
}
