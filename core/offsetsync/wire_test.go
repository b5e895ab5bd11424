package offsetsync

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex turns the spaced hex of mm2.md §2 into bytes; ".." runs are not used.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden bytes from MM2's OffsetSync schema (reference/mm2.md §2.2):
// orders-3, upstream 100 -> downstream 42.
func TestOffsetSyncGolden(t *testing.T) {
	s := OffsetSync{Topic: "orders", Partition: 3, Upstream: 100, Downstream: 42}
	wantKey := unhex(t, "00 06 6f 72 64 65 72 73 00 00 00 03")
	wantValue := unhex(t, "00 00 00 00 00 00 00 64 00 00 00 00 00 00 00 2a")
	if got := s.Key(); !bytes.Equal(got, wantKey) {
		t.Errorf("key = % x, want % x", got, wantKey)
	}
	if got := s.Value(); !bytes.Equal(got, wantValue) {
		t.Errorf("value = % x, want % x", got, wantValue)
	}
	got, err := DecodeOffsetSync(wantKey, wantValue)
	if err != nil || got != s {
		t.Errorf("decode = %+v, %v; want %+v", got, err, s)
	}
}

// mm2.md §2.3: group g1, A.orders-3, upstream 100 -> 42, metadata "".
func TestCheckpointGolden(t *testing.T) {
	c := Checkpoint{Group: "g1", Topic: "A.orders", Partition: 3, Upstream: 100, Downstream: 42}
	wantKey := unhex(t, "00 02 67 31 00 08 41 2e 6f 72 64 65 72 73 00 00 00 03")
	wantValue := unhex(t, "00 00 | 00 00 00 00 00 00 00 64 | 00 00 00 00 00 00 00 2a | 00 00")
	if got := c.Key(); !bytes.Equal(got, wantKey) {
		t.Errorf("key = % x, want % x", got, wantKey)
	}
	if got := c.Value(); !bytes.Equal(got, wantValue) || len(got) != 20 {
		t.Errorf("value = % x, want % x (20 bytes)", got, wantValue)
	}
	got, err := DecodeCheckpoint(wantKey, wantValue)
	if err != nil || got != c {
		t.Errorf("decode = %+v, %v; want %+v", got, err, c)
	}
	// The source commit's metadata, carried as a STRING (INT16 length).
	c.Metadata = "m1"
	wantValue = unhex(t, "00 00 | 00 00 00 00 00 00 00 64 | 00 00 00 00 00 00 00 2a | 00 02 6d 31")
	if got := c.Value(); !bytes.Equal(got, wantValue) {
		t.Errorf("value with metadata = % x, want % x", got, wantValue)
	}
	if got, err := DecodeCheckpoint(wantKey, wantValue); err != nil || got != c {
		t.Errorf("decode with metadata = %+v, %v; want %+v", got, err, c)
	}
}

// mm2.md §2.4: heartbeat key for A->B.
func TestHeartbeatGolden(t *testing.T) {
	h := Heartbeat{Source: "A", Target: "B", TimestampMs: 0x0102030405}
	if got, want := h.Key(), unhex(t, "00 01 41 00 01 42"); !bytes.Equal(got, want) {
		t.Errorf("key = % x, want % x", got, want)
	}
	if got, want := h.Value(), unhex(t, "00 00 00 00 00 01 02 03 04 05"); !bytes.Equal(got, want) {
		t.Errorf("value = % x, want % x", got, want)
	}
	got, err := DecodeHeartbeat(h.Key(), h.Value())
	if err != nil || got != h {
		t.Errorf("decode = %+v, %v; want %+v", got, err, h)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value []byte
		decode     func(k, v []byte) error
	}{
		{"sync short key", []byte{0, 6, 'o'}, make([]byte, 16), func(k, v []byte) error { _, err := DecodeOffsetSync(k, v); return err }},
		{"sync negative length", []byte{0xff, 0xff, 0, 0, 0, 0}, make([]byte, 16), func(k, v []byte) error { _, err := DecodeOffsetSync(k, v); return err }},
		{"sync short value", OffsetSync{Topic: "t"}.Key(), make([]byte, 15), func(k, v []byte) error { _, err := DecodeOffsetSync(k, v); return err }},
		{"checkpoint version 1", Checkpoint{Group: "g", Topic: "t"}.Key(), append([]byte{0, 1}, make([]byte, 18)...), func(k, v []byte) error { _, err := DecodeCheckpoint(k, v); return err }},
		{"checkpoint short metadata", Checkpoint{Group: "g", Topic: "t"}.Key(), append(make([]byte, 18), 0, 5, 'x'), func(k, v []byte) error { _, err := DecodeCheckpoint(k, v); return err }},
		{"heartbeat version 7", Heartbeat{Source: "A", Target: "B"}.Key(), append([]byte{0, 7}, make([]byte, 8)...), func(k, v []byte) error { _, err := DecodeHeartbeat(k, v); return err }},
		{"heartbeat empty value", Heartbeat{Source: "A", Target: "B"}.Key(), nil, func(k, v []byte) error { _, err := DecodeHeartbeat(k, v); return err }},
	} {
		if err := tc.decode(tc.key, tc.value); err == nil {
			t.Errorf("%s: decoded without error", tc.name)
		}
	}
}

// MM2's readers ignore trailing bytes; so do ours.
func TestDecodeIgnoresTrailingBytes(t *testing.T) {
	s := OffsetSync{Topic: "x", Partition: 1, Upstream: 5, Downstream: 6}
	got, err := DecodeOffsetSync(append(s.Key(), 9, 9), append(s.Value(), 1))
	if err != nil || got != s {
		t.Errorf("decode = %+v, %v; want %+v", got, err, s)
	}
}

// Check refuses what Key and Value cannot encode (they panic on it): a
// source may hold a group id or offset metadata past MaxString.
func TestCheckpointCheck(t *testing.T) {
	long := strings.Repeat("x", MaxString+1)
	for _, tc := range []struct {
		cp   Checkpoint
		want string
	}{
		{Checkpoint{Group: strings.Repeat("g", MaxString), Topic: "t", Metadata: strings.Repeat("m", MaxString)}, ""},
		{Checkpoint{Group: long, Topic: "t"}, "group"},
		{Checkpoint{Group: "g", Topic: long}, "topic"},
		{Checkpoint{Group: "g", Topic: "t", Metadata: long}, "metadata"},
	} {
		err := tc.cp.Check()
		if tc.want == "" {
			if err != nil {
				t.Errorf("Check: %v", err)
			}
			_, _ = tc.cp.Key(), tc.cp.Value() // no panic
			continue
		}
		if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check with a long %s: %v", tc.want, err)
		}
	}
}
