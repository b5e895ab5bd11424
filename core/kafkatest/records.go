package kafkatest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SeqHeader carries a record's sequence number within its partition, so
// exactly-once can be checked: every sequence exactly once, in order.
const SeqHeader = "mirrorless-seq"

// Record builds the i-th test record of a partition, exercising what a
// copy must keep: nil keys, tombstones (nil values), empty values,
// duplicate header keys with order, and old timestamps.
func Record(topic string, partition int32, i int) *kgo.Record {
	seq := binary.BigEndian.AppendUint64(nil, uint64(i))
	r := &kgo.Record{
		Topic:     topic,
		Partition: partition,
		Key:       []byte(fmt.Sprintf("k-%d-%d", partition, i)),
		Value:     []byte(fmt.Sprintf("value %d of partition %d", i, partition)),
		Headers: []kgo.RecordHeader{
			{Key: SeqHeader, Value: seq},
			{Key: "dup", Value: []byte("first")},
			{Key: "dup", Value: []byte("second")},
		},
		Timestamp: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
	}
	switch i % 7 {
	case 3:
		r.Key = nil
	case 5:
		r.Value = nil // tombstone
	case 6:
		r.Value = []byte{}
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "empty", Value: nil})
	}
	return r
}

// ProduceSeq produces records [from, to) to each partition, synchronously.
func ProduceSeq(t testing.TB, cl *kgo.Client, topic string, partitions int32, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		for p := int32(0); p < partitions; p++ {
			recs = append(recs, Record(topic, p, i))
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// Seq returns a record's sequence number, or -1.
func Seq(r *kgo.Record) int64 {
	for _, h := range r.Headers {
		if h.Key == SeqHeader && len(h.Value) == 8 {
			return int64(binary.BigEndian.Uint64(h.Value))
		}
	}
	return -1
}

// ByPartition groups records by partition, in offset order.
func ByPartition(recs []*kgo.Record) map[int32][]*kgo.Record {
	out := map[int32][]*kgo.Record{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// SameRecords checks that target holds exactly the source's records,
// partition by partition, in order, with equal key, value (nil kept apart
// from empty), headers and timestamp. It returns the first difference.
func SameRecords(source, target []*kgo.Record) error {
	sp, tp := ByPartition(source), ByPartition(target)
	for p, tr := range tp {
		if _, ok := sp[p]; !ok {
			return fmt.Errorf("partition %d: %d records on the target, none on the source", p, len(tr))
		}
	}
	for p, sr := range sp {
		tr := tp[p]
		if len(tr) != len(sr) {
			return fmt.Errorf("partition %d: %d records on the source, %d on the target", p, len(sr), len(tr))
		}
		for i := range sr {
			if err := sameRecord(sr[i], tr[i]); err != nil {
				return fmt.Errorf("partition %d, record %d (source offset %d, target offset %d): %w", p, i, sr[i].Offset, tr[i].Offset, err)
			}
		}
	}
	return nil
}

func sameRecord(a, b *kgo.Record) error {
	if !sameBytes(a.Key, b.Key) {
		return fmt.Errorf("key %q != %q", a.Key, b.Key)
	}
	if !sameBytes(a.Value, b.Value) {
		return fmt.Errorf("value %q (nil=%v) != %q (nil=%v)", a.Value, a.Value == nil, b.Value, b.Value == nil)
	}
	if !a.Timestamp.Equal(b.Timestamp) {
		return fmt.Errorf("timestamp %v != %v", a.Timestamp, b.Timestamp)
	}
	if len(a.Headers) != len(b.Headers) {
		return fmt.Errorf("%d headers != %d", len(a.Headers), len(b.Headers))
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return fmt.Errorf("header %d: %q=%q != %q=%q", i, a.Headers[i].Key, a.Headers[i].Value, b.Headers[i].Key, b.Headers[i].Value)
		}
	}
	return nil
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// ExactlyOnce checks sequence numbers per partition on the target: each of
// 0..want-1 exactly once and in order.
func ExactlyOnce(target []*kgo.Record, partitions int32, want int) error {
	bp := ByPartition(target)
	for p := int32(0); p < partitions; p++ {
		recs := bp[p]
		if len(recs) != want {
			dups, missing := countSeq(recs, want)
			return fmt.Errorf("partition %d: %d records, want %d (%d duplicated, %d missing: %s)", p, len(recs), want, dups, len(missing), ranges(missing))
		}
		for i, r := range recs {
			if s := Seq(r); s != int64(i) {
				return fmt.Errorf("partition %d: record %d has sequence %d", p, i, s)
			}
		}
	}
	return nil
}

func countSeq(recs []*kgo.Record, want int) (dups int, missing []int) {
	seen := map[int64]int{}
	for _, r := range recs {
		seen[Seq(r)]++
	}
	for s, n := range seen {
		if n > 1 && s >= 0 {
			dups += n - 1
		}
	}
	for i := 0; i < want; i++ {
		if seen[int64(i)] == 0 {
			missing = append(missing, i)
		}
	}
	return dups, missing
}

// ranges prints sorted numbers as "a-b, c".
func ranges(ns []int) string {
	var out []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if i == j {
			out = append(out, fmt.Sprint(ns[i]))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return strings.Join(out, ", ")
}
