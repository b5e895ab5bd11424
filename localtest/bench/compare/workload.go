package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seqHeader and traceHeader are the two headers of every record. seqHeader
// holds the record's sequence number in its partition (8 bytes, big
// endian), which is also its source offset: the verifier derives everything
// else about the record from (workload, topic, partition, seq).
const (
	seqHeader   = "bench-seq"
	traceHeader = "bench-trace"
)

// workload is one data set on cluster A.
type workload struct {
	Name       string // w1, w2, w3
	Topics     []string
	Partitions int32
	PerPart    []int64 // records per partition (same for every topic)
	Size       int     // value size in bytes
	Seed       uint64
	BaseTS     int64 // timestamp of seq 0, in ms; seq n has BaseTS+n
}

func (w *workload) total() int64 {
	var n int64
	for _, c := range w.PerPart {
		n += c
	}
	return n * int64(len(w.Topics))
}

// payloadBytes is key + value + header bytes of the whole workload, the
// figure throughput is computed from (what a consumer hands to a producer).
func (w *workload) payloadBytes() int64 {
	return w.total() * int64(recordBytes(w.Size))
}

func recordBytes(size int) int { return 16 + size + len(seqHeader) + 8 + len(traceHeader) + 16 }

func (w *workload) String() string {
	return fmt.Sprintf("%s: %d topic(s) x %d partitions, %d records of %d B value (%.1f MiB with keys and headers)",
		w.Name, len(w.Topics), w.Partitions, w.total(), w.Size, float64(w.payloadBytes())/(1<<20))
}

// workloads builds W1, W2 and W3 at the given scale. Scale multiplies the
// record counts of W1 and W2 and the topic count of W3 (at least 2 topics).
// split spreads total records over parts partitions as evenly as it goes.
func split(total int64, parts int32) []int64 {
	out := make([]int64, parts)
	for p := range out {
		out[p] = total / int64(parts)
		if int64(p) < total%int64(parts) {
			out[p]++
		}
	}
	return out
}

// warmUpWorkload is W1's shape at records records, on a topic of its own:
// what the pipe and mirrorless copy, untimed, to warm the brokers.
func warmUpWorkload(records int64) *workload {
	return &workload{Name: "warm", Topics: []string{"bench-warm"}, Partitions: 12,
		PerPart: split(records, 12), Size: 1024, Seed: 9, BaseTS: time.Now().Add(-time.Hour).UnixMilli()}
}

func workloads(scale float64, names map[string]bool) []*workload {
	base := time.Now().Add(-time.Hour).UnixMilli() // within the broker's timestamp bounds
	scaled := func(n float64) int64 { return max(1, int64(math.Round(n*scale))) }
	var ws []*workload
	if names["w1"] {
		ws = append(ws, &workload{Name: "w1", Topics: []string{"bench-w1"}, Partitions: 12,
			PerPart: split(scaled(1_000_000), 12), Size: 1024, Seed: 1, BaseTS: base})
	}
	if names["w2"] {
		ws = append(ws, &workload{Name: "w2", Topics: []string{"bench-w2"}, Partitions: 12,
			PerPart: split(scaled(1_000_000), 12), Size: 100, Seed: 2, BaseTS: base})
	}
	if names["w3"] {
		n := max(2, int(scaled(1000)))
		w := &workload{Name: "w3", Partitions: 2, PerPart: []int64{200, 200}, Size: 1024, Seed: 3, BaseTS: base}
		for i := range n {
			w.Topics = append(w.Topics, fmt.Sprintf("bench-w3-%04d", i))
		}
		ws = append(ws, w)
	}
	if names["t1"] {
		// T1 (issue 17): many trickling partitions, 10 small records each.
		n := max(2, int(scaled(1000)))
		w := &workload{Name: "t1", Partitions: 2, PerPart: []int64{10, 10}, Size: 1024, Seed: 4, BaseTS: base}
		for i := range n {
			w.Topics = append(w.Topics, fmt.Sprintf("bench-t1-%04d", i))
		}
		ws = append(ws, w)
	}
	return ws
}

// idleWorkload is the data set of the idle measurement at scale: topics of
// 10 partitions, one record each, about `partitions` partitions in all
// (scaled, at least 2 topics).
func idleWorkload(partitions int, scale float64) *workload {
	n := max(2, int(math.Round(float64(partitions)*scale/10)))
	w := &workload{Name: "idle10k", Partitions: 10, PerPart: split(10, 10), Size: 100, Seed: 5,
		BaseTS: time.Now().Add(-time.Hour).UnixMilli()}
	for i := range n {
		w.Topics = append(w.Topics, fmt.Sprintf("bench-idle10k-%04d", i))
	}
	return w
}

// topicRegex selects the workload's source topics (MM2 and mirrorless
// `topics`). Written with [.]-free names, so no escaping is needed.
// again is a copy of a single-topic workload for another round: the same
// records in a fresh topic, so every copier writes fresh target topics.
func (w *workload) again(round int) *workload {
	c := *w
	c.Topics = []string{fmt.Sprintf("%s-r%d", w.Topics[0], round)}
	return &c
}

func (w *workload) topicRegex() string {
	if len(w.Topics) == 1 {
		return w.Topics[0]
	}
	return "bench-" + w.Name + "-.*"
}

var words = []string{
	"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ", "hotel ",
	"india ", "juliett ", "kilo ", "lima ", "mike ", "november ", "oscar ", "papa ",
	"quebec ", "romeo ", "sierra ", "tango ", "uniform ", "victor ", "whiskey ", "xray ",
	"yankee ", "zulu ", "order-id=", "amount=", "currency=EUR ", "status=ok ", "{\"k\":", "},",
}

// record is the seq-th record of a topic partition: 16 random key bytes, a
// value of random words (text-like, so lz4 has something to find), the two
// headers and a timestamp. The same arguments always give the same record.
func (w *workload) record(topic int, partition int32, seq int64, r *kgo.Record) {
	rng := rand.New(rand.NewPCG(w.Seed<<40|uint64(topic)<<16|uint64(partition), uint64(seq)))
	key := make([]byte, 16)
	binary.LittleEndian.PutUint64(key, rng.Uint64())
	binary.LittleEndian.PutUint64(key[8:], rng.Uint64())
	val := make([]byte, 0, w.Size+16)
	for len(val) < w.Size {
		x := rng.Uint64()
		for i := 0; i < 8 && len(val) < w.Size; i++ {
			val = append(val, words[x&31]...)
			x >>= 8
		}
	}
	val = val[:w.Size]
	trace := make([]byte, 16)
	binary.LittleEndian.PutUint64(trace, rng.Uint64())
	binary.LittleEndian.PutUint64(trace[8:], rng.Uint64())
	r.Key = key
	r.Value = val
	r.Headers = []kgo.RecordHeader{
		{Key: seqHeader, Value: binary.BigEndian.AppendUint64(nil, uint64(seq))},
		{Key: traceHeader, Value: trace},
	}
	r.Timestamp = time.UnixMilli(w.BaseTS + seq)
}

func seqOf(r *kgo.Record) int64 {
	for _, h := range r.Headers {
		if h.Key == seqHeader && len(h.Value) == 8 {
			return int64(binary.BigEndian.Uint64(h.Value))
		}
	}
	return -1
}

// generate creates the workload's topics on A (deleting leftovers of an
// earlier run first) and produces its records with lz4 batches.
func generate(ctx context.Context, o *options, adm *kadm.Client, w *workload) (time.Duration, error) {
	if err := recreateTopics(ctx, adm, "A", w.Topics, w.Partitions); err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.a), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(50_000), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MetadataMinAge(250*time.Millisecond)) // new topics: no 5 s wait for their metadata
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	t0 := time.Now()
	var failed atomic.Pointer[error]
	// Round-robin over partitions so every partition fills at once.
	maxPer := int64(0)
	for _, c := range w.PerPart {
		maxPer = max(maxPer, c)
	}
	for seq := int64(0); seq < maxPer; seq++ {
		for ti, t := range w.Topics {
			for p := int32(0); p < w.Partitions; p++ {
				if seq >= w.PerPart[p] {
					continue
				}
				r := &kgo.Record{Topic: t, Partition: p}
				w.record(ti, p, seq, r)
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.CompareAndSwap(nil, &err)
					}
				})
			}
		}
		if e := failed.Load(); e != nil {
			return 0, fmt.Errorf("produce %s: %w", w.Name, *e)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	if e := failed.Load(); e != nil {
		return 0, fmt.Errorf("produce %s: %w", w.Name, *e)
	}
	took := time.Since(t0)
	// The sequence number must be the source offset: check the end offsets.
	ends, err := adm.ListEndOffsets(ctx, w.Topics...)
	if err != nil {
		return 0, fmt.Errorf("list end offsets on A: %w", err)
	}
	var bad []string
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != w.PerPart[o.Partition] {
			bad = append(bad, fmt.Sprintf("%s/%d end %d want %d (%v)", o.Topic, o.Partition, o.Offset, w.PerPart[o.Partition], o.Err))
		}
	})
	if len(bad) > 0 {
		return 0, fmt.Errorf("source offsets are not the sequence numbers: %v", bad[:min(5, len(bad))])
	}
	return took, nil
}
