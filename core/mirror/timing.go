package mirror

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/lease"
)

// Timing is how old the copied records were, as MM2 measures it:
// replication latency is the time from a record's timestamp to the commit
// of the target transaction holding it (MM2's replication-latency-ms, at
// the producer's acknowledgement); record age is the time from its
// timestamp to the start of that transaction, i.e. how old it was when
// this invocation took it from the source (MM2's record-age-ms, at poll).
// Only committed records count; timestamps in the future count as 0
// (per transaction).
type Timing struct {
	LatencyMaxMs   int64 `json:"latency_max_ms,omitempty"`
	LatencyAvgMs   int64 `json:"latency_avg_ms,omitempty"`
	RecordAgeMaxMs int64 `json:"record_age_max_ms,omitempty"`
	RecordAgeAvgMs int64 `json:"record_age_avg_ms,omitempty"`

	// Sums for the averages (float: ages of old records times many
	// records overflow int64 milliseconds).
	n              int64
	latSum, ageSum float64
}

// stamps summarises the timestamps of a transaction's records.
type stamps struct {
	n        int64
	min, sum float64 // milliseconds since the epoch
}

func stampsOf(recs []*kgo.Record) stamps {
	s := stamps{n: int64(len(recs))}
	for i, r := range recs {
		ts := float64(r.Timestamp.UnixMilli())
		if i == 0 || ts < s.min {
			s.min = ts
		}
		s.sum += ts
	}
	return s
}

// note adds the records of a transaction that began at begun and
// committed at committed.
func (t *Timing) note(begun, committed time.Time, s stamps) {
	if s.n == 0 {
		return
	}
	b, c := float64(begun.UnixMilli()), float64(committed.UnixMilli())
	t.LatencyMaxMs = max(t.LatencyMaxMs, int64(max(0, c-s.min)))
	t.RecordAgeMaxMs = max(t.RecordAgeMaxMs, int64(max(0, b-s.min)))
	t.latSum += max(0, float64(s.n)*c-s.sum)
	t.ageSum += max(0, float64(s.n)*b-s.sum)
	t.n += s.n
	t.averages()
}

// merge adds another unit's timing.
func (t *Timing) merge(o Timing) {
	t.LatencyMaxMs = max(t.LatencyMaxMs, o.LatencyMaxMs)
	t.RecordAgeMaxMs = max(t.RecordAgeMaxMs, o.RecordAgeMaxMs)
	t.latSum += o.latSum
	t.ageSum += o.ageSum
	t.n += o.n
	t.averages()
}

func (t *Timing) averages() {
	if t.n > 0 {
		t.LatencyAvgMs = int64(t.latSum / float64(t.n))
		t.RecordAgeAvgMs = int64(t.ageSum / float64(t.n))
	}
}

// Timed is the number of committed records the timing covers.
func (t Timing) Timed() int64 { return t.n }

// PartitionLag is one source partition's lag after the invocation: source
// end (last stable offset) minus the committed position.
type PartitionLag struct {
	Topic     string
	Partition int32
	Lag       int64
	// Next is the committed position (the first offset not copied) and
	// End the source end the lag was measured against.
	Next, End int64
}

// partitionLags lists the lag of every unit this invocation worked on
// (caught up ones too, so a partition's lag is seen going to zero) and of
// every other unit that has lag. Idle partitions nobody worked on are left
// out: per-partition metrics are paid per partition.
func partitionLags(p *plan, lanes []*lane, startFrom string) []PartitionLag {
	var out []PartitionLag
	worked := map[lease.Unit]bool{}
	for _, l := range lanes {
		if l.res.Status == "" {
			continue // passed over at start
		}
		worked[l.u.Unit] = true
		out = append(out, PartitionLag{l.u.SourceTopic, l.u.Partition, max(0, l.u.End-l.pos.Next), l.pos.Next, l.u.End})
	}
	for _, u := range p.Units {
		if l := u.lag(startFrom); !worked[u.Unit] && l > 0 {
			out = append(out, PartitionLag{u.SourceTopic, u.Partition, l, u.End - l, u.End})
		}
	}
	return out
}
