// Package offsetsync holds MirrorMaker 2's internal record formats: offset
// syncs, checkpoints and heartbeats, byte for byte as MM2 writes them.
//
// All three use Kafka's protocol Schema types: big-endian fixed-width
// integers and STRING = INT16 length + UTF-8 bytes (non-nullable). Readers
// ignore trailing bytes, as MM2's Schema.read does, so a newer writer that
// appends fields stays readable.
package offsetsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrShort is returned when a record is shorter than its schema.
var ErrShort = errors.New("record too short")

// MaxString is the longest STRING (in bytes) the formats can carry: its
// length is an INT16. MM2's writer throws on a longer one, and its readers
// could not read it back.
const MaxString = math.MaxInt16

// ErrTooLong is returned by the Check methods for a field longer than
// MaxString.
var ErrTooLong = errors.New("longer than MM2's format can carry (32767 bytes)")

// OffsetSync maps the offset of a record in the source partition to the
// offset its copy got in the remote partition. MM2's checkpoint task reads
// these to translate consumer-group offsets.
type OffsetSync struct {
	Topic      string // source topic
	Partition  int32
	Upstream   int64 // offset of the record on the source
	Downstream int64 // offset of its copy on the target
}

// Key encodes the record key: topic STRING, partition INT32.
func (s OffsetSync) Key() []byte {
	b := make([]byte, 0, 2+len(s.Topic)+4)
	b = appendString(b, s.Topic)
	return binary.BigEndian.AppendUint32(b, uint32(s.Partition))
}

// Value encodes the record value: upstream INT64, downstream INT64 (no
// version header, unlike checkpoints and heartbeats).
func (s OffsetSync) Value() []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Upstream))
	return binary.BigEndian.AppendUint64(b, uint64(s.Downstream))
}

// DecodeOffsetSync decodes an offset-sync record.
func DecodeOffsetSync(key, value []byte) (OffsetSync, error) {
	var s OffsetSync
	r := reader{b: key}
	s.Topic = r.string()
	s.Partition = r.int32()
	if r.err != nil {
		return s, fmt.Errorf("decode offset-sync key: %w", r.err)
	}
	r = reader{b: value}
	s.Upstream = r.int64()
	s.Downstream = r.int64()
	if r.err != nil {
		return s, fmt.Errorf("decode offset-sync value: %w", r.err)
	}
	return s, nil
}

// Checkpoint is a translated consumer-group offset, as written to
// <source>.checkpoints.internal on the target and read by MM2's
// RemoteClusterUtils.translateOffsets.
type Checkpoint struct {
	Group      string
	Topic      string // the target-side (remote) topic name
	Partition  int32
	Upstream   int64 // the group's committed offset on the source
	Downstream int64 // the translated offset on the target
	Metadata   string
}

// Key encodes group STRING, topic STRING, partition INT32.
func (c Checkpoint) Key() []byte {
	b := make([]byte, 0, 4+len(c.Group)+len(c.Topic)+4)
	b = appendString(b, c.Group)
	b = appendString(b, c.Topic)
	return binary.BigEndian.AppendUint32(b, uint32(c.Partition))
}

// Check returns an error wrapping ErrTooLong, naming the field, if a
// string field is longer than MaxString; Key and Value panic on such a
// checkpoint, so a writer checks it first. The group and its offset
// metadata come from the source cluster, which may hold longer ones than
// a real broker does (kfake, another implementation).
func (c Checkpoint) Check() error {
	for _, f := range []struct{ name, s string }{{"group", c.Group}, {"topic", c.Topic}, {"metadata", c.Metadata}} {
		if len(f.s) > MaxString {
			return fmt.Errorf("checkpoint %s of %d bytes: %w", f.name, len(f.s), ErrTooLong)
		}
	}
	return nil
}

// Value encodes version INT16 (0), upstream INT64, downstream INT64,
// metadata STRING.
func (c Checkpoint) Value() []byte {
	b := make([]byte, 0, 2+16+2+len(c.Metadata))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Upstream))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Downstream))
	return appendString(b, c.Metadata)
}

// DecodeCheckpoint decodes a checkpoint record. Unknown versions are an
// error: MM2 has only ever written version 0.
func DecodeCheckpoint(key, value []byte) (Checkpoint, error) {
	var c Checkpoint
	r := reader{b: key}
	c.Group = r.string()
	c.Topic = r.string()
	c.Partition = r.int32()
	if r.err != nil {
		return c, fmt.Errorf("decode checkpoint key: %w", r.err)
	}
	r = reader{b: value}
	if v := r.int16(); r.err == nil && v != 0 {
		return c, fmt.Errorf("decode checkpoint value: unknown version %d", v)
	}
	c.Upstream = r.int64()
	c.Downstream = r.int64()
	c.Metadata = r.string()
	if r.err != nil {
		return c, fmt.Errorf("decode checkpoint value: %w", r.err)
	}
	return c, nil
}

// Heartbeat is MM2's liveness record in the `heartbeats` topic.
type Heartbeat struct {
	Source, Target string // cluster aliases
	TimestampMs    int64
}

// Key encodes sourceClusterAlias STRING, targetClusterAlias STRING.
func (h Heartbeat) Key() []byte {
	b := make([]byte, 0, 4+len(h.Source)+len(h.Target))
	b = appendString(b, h.Source)
	return appendString(b, h.Target)
}

// Value encodes version INT16 (0), timestamp INT64.
func (h Heartbeat) Value() []byte {
	b := make([]byte, 0, 10)
	b = binary.BigEndian.AppendUint16(b, 0)
	return binary.BigEndian.AppendUint64(b, uint64(h.TimestampMs))
}

// DecodeHeartbeat decodes a heartbeat record.
func DecodeHeartbeat(key, value []byte) (Heartbeat, error) {
	var h Heartbeat
	r := reader{b: key}
	h.Source = r.string()
	h.Target = r.string()
	if r.err != nil {
		return h, fmt.Errorf("decode heartbeat key: %w", r.err)
	}
	r = reader{b: value}
	if v := r.int16(); r.err == nil && v != 0 {
		return h, fmt.Errorf("decode heartbeat value: unknown version %d", v)
	}
	h.TimestampMs = r.int64()
	if r.err != nil {
		return h, fmt.Errorf("decode heartbeat value: %w", r.err)
	}
	return h, nil
}

func appendString(b []byte, s string) []byte {
	if len(s) > MaxString {
		// Kafka's STRING cannot carry it. Topic names are at most 249
		// bytes and aliases are checked by config; groups and metadata
		// are checked by Checkpoint.Check before encoding, so this is a
		// programming error, not input.
		panic(fmt.Sprintf("offsetsync: string of %d bytes exceeds INT16 length", len(s)))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = ErrShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) int16() int16 {
	if v := r.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) int32() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *reader) int64() int64 {
	if v := r.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *reader) string() string {
	n := r.int16()
	if r.err == nil && n < 0 {
		r.err = fmt.Errorf("negative string length %d", n)
		return ""
	}
	return string(r.take(int(n)))
}
