package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/meter"
	"github.com/mirrorless/mirrorless/core/names"
)

// Adoption is what adopting one partition from MirrorMaker 2 found.
type Adoption struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// MM2Offset is the last replicated offset MM2 recorded (-1: none).
	MM2Offset int64 `json:"mm2_offset"`
	// Next is where mirrorless continues on the source (-1: not adopted).
	Next       int64  `json:"next"`
	RemoteLast int64  `json:"remote_last"` // the remote partition's last record
	Action     string `json:"action"`      // adopt, adopted, skip, refuse
	Reason     string `json:"reason,omitempty"`
}

// adoptScan bounds how far past MM2's recorded offset the source is
// searched for the remote partition's last record (MM2 at-least-once
// flushes its offsets every minute, so it may have copied further).
const adoptScan = 200_000

// Adopt takes over partitions that MirrorMaker 2 copied: for each remote
// partition that holds records but has no mirrorless progress, it finds
// the source record the remote partition ends with — starting at the
// offset MM2 recorded in its offsets topic and searching forward, since
// MM2 at least once may have copied past what it recorded; when MM2 died
// before recording any, searching from the source's log start for the one
// record it matches (its copy count plus adoptScan records) — and, with
// apply, commits the position after it. Nothing is copied twice and
// nothing is skipped; a partition whose last record cannot be found is
// refused, not guessed. Stop MirrorMaker 2 first.
func (m *Mirror) Adopt(ctx context.Context, apply bool) ([]Adoption, error) {
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		return nil, err
	}
	var fresh []*unit
	for _, u := range p.Units {
		if u.Progress == nil {
			fresh = append(fresh, u)
		}
	}
	bounds, err := remoteBounds(ctx, m.TargetAdmin, fresh)
	if err != nil {
		return nil, err
	}
	recorded, err := m.readMM2Offsets(ctx)
	if err != nil {
		return nil, err
	}
	mt := meter.From(ctx)
	mt.AddTotal(int64(len(fresh)))
	var out []Adoption
	for _, u := range fresh {
		a := Adoption{Topic: u.SourceTopic, Partition: u.Partition, MM2Offset: -1, Next: -1, RemoteLast: -1}
		if n, ok := recorded[lease.Unit{Topic: u.SourceTopic, Partition: u.Partition}]; ok {
			a.MM2Offset = n
		}
		b := bounds[u.Unit]
		last, err := lastRecord(ctx, m.TargetOpts, u.Unit.Topic, u.Partition, b[0], b[1])
		switch {
		case err != nil:
			a.Action, a.Reason = "refuse", err.Error()
		case last == nil:
			a.Action, a.Reason = "skip", "the remote partition holds no records: mirrorless copies it from the start"
		default:
			a.RemoteLast = last.Offset
			var at int64
			var err error
			if a.MM2Offset < 0 {
				// MM2 died before its first offset flush (every
				// offset.flush.interval.ms, a minute by default): find the
				// remote's last record on the source itself, from the log
				// start, and only if it matches one source record.
				at, err = findOnly(ctx, m.SourceOpts, u.SourceTopic, u.Partition, u.LogStart, min(u.End, u.LogStart+(b[1]-b[0])+adoptScan), last)
				if err != nil {
					err = fmt.Errorf("no offset for %s/%d in %s, and %w", u.SourceTopic, u.Partition, names.MM2OffsetsTopic(m.Flow.Source), err)
				}
			} else {
				at, err = findRecord(ctx, m.SourceOpts, u.SourceTopic, u.Partition, max(a.MM2Offset, u.LogStart), u.End, last)
			}
			if err != nil {
				a.Action, a.Reason = "refuse", err.Error()
				break
			}
			a.Next = at + 1
			a.Action = "adopt"
			switch {
			case a.MM2Offset < 0:
				a.Reason = fmt.Sprintf("MirrorMaker 2 recorded no offset; the remote partition's last record is source offset %d, the only source record it matches", at)
			case at != a.MM2Offset:
				a.Reason = fmt.Sprintf("MirrorMaker 2 had copied up to %d, past the %d it recorded", at, a.MM2Offset)
			}
			if apply {
				pos := Position{Next: at + 1, LastUpstream: at, LastDownstream: last.Offset, Committed: time.Now(), SourceID: u.SourceID}
				if err := commitProgressPlain(ctx, m.TargetAdmin, ProgressGroup(m.Flow), u.Unit, pos); err != nil {
					return out, err
				}
				a.Action = "adopted"
			}
		}
		out = append(out, a)
		mt.AddDone(1)
	}
	return out, nil
}

// readMM2Offsets reads MM2's source offsets ({"offset": last replicated})
// for this flow's source cluster; the last record per partition wins.
func (m *Mirror) readMM2Offsets(ctx context.Context) (map[lease.Unit]int64, error) {
	topic := names.MM2OffsetsTopic(m.Flow.Source)
	out := map[lease.Unit]int64{}
	ends, err := m.TargetAdmin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return out, nil // no such topic, or empty
	}
	parts := map[int32]kgo.Offset{}
	for p := range want {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, m.TargetOpts...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			var key []json.RawMessage
			var part struct {
				Cluster   string `json:"cluster"`
				Topic     string `json:"topic"`
				Partition int32  `json:"partition"`
			}
			if json.Unmarshal(r.Key, &key) != nil || len(key) != 2 || json.Unmarshal(key[1], &part) != nil || part.Cluster != m.Flow.Source {
				return // another connector's, or not MM2's source offsets
			}
			u := lease.Unit{Topic: part.Topic, Partition: part.Partition}
			if r.Value == nil {
				delete(out, u)
				return
			}
			var v struct {
				Offset *int64 `json:"offset"`
			}
			if json.Unmarshal(r.Value, &v) == nil && v.Offset != nil {
				out[u] = *v.Offset
			}
		})
	}
	return out, nil
}

// lastRecord returns the last committed data record of a partition's
// [start, end) range, or nil when there is none.
func lastRecord(ctx context.Context, opts []kgo.Opt, topic string, partition int32, start, end int64) (*kgo.Record, error) {
	if end <= start {
		return nil, nil
	}
	var last *kgo.Record
	err := scan(ctx, opts, topic, partition, max(start, end-1000), end, func(r *kgo.Record) bool {
		last = r
		return false
	})
	if err == nil && last == nil && end-1000 > start {
		err = scan(ctx, opts, topic, partition, start, end, func(r *kgo.Record) bool { last = r; return false })
	}
	return last, err
}

// findRecord returns the offset of the first record at or after from
// (within adoptScan) equal to want in key, value, headers and timestamp.
func findRecord(ctx context.Context, opts []kgo.Opt, topic string, partition int32, from, end int64, want *kgo.Record) (int64, error) {
	found := int64(-1)
	stop := min(end, from+adoptScan)
	err := scan(ctx, opts, topic, partition, from, stop, func(r *kgo.Record) bool {
		if sameRecord(r, want) {
			found = r.Offset
			return true
		}
		return false
	})
	if err != nil {
		return -1, err
	}
	if found < 0 {
		return -1, fmt.Errorf("the remote partition's last record (offset %d) matches no source record of %s/%d in %d..%d: not a copy of this source, or MirrorMaker 2 is still running", want.Offset, topic, partition, from, stop-1)
	}
	return found, nil
}

// findOnly returns the offset of the one source record in [from, to)
// equal to want. With no offset recorded by MM2 there is no earliest
// candidate to prefer, so a record that matches twice (identical key,
// value, headers and timestamp) is refused rather than guessed.
func findOnly(ctx context.Context, opts []kgo.Opt, topic string, partition int32, from, to int64, want *kgo.Record) (int64, error) {
	var found []int64
	err := scan(ctx, opts, topic, partition, from, to, func(r *kgo.Record) bool {
		if sameRecord(r, want) {
			found = append(found, r.Offset)
		}
		return len(found) > 1
	})
	switch {
	case err != nil:
		return -1, err
	case len(found) == 0:
		return -1, fmt.Errorf("the remote partition's last record (offset %d) matches no source record of %s/%d in %d..%d: not a copy of this source, or MirrorMaker 2 is still running", want.Offset, topic, partition, from, to-1)
	case len(found) > 1:
		return -1, fmt.Errorf("the remote partition's last record (offset %d) matches source records %d and %d of %s/%d: cannot tell which one MirrorMaker 2 copied last; let MirrorMaker 2 record its offsets (run it past offset.flush.interval.ms) or copy the partition again", want.Offset, found[0], found[1], topic, partition)
	}
	return found[0], nil
}

// scan reads committed data records of [from, to) in order until fn says
// stop, for two minutes at most.
func scan(ctx context.Context, opts []kgo.Opt, topic string, partition int32, from, to int64, fn func(*kgo.Record) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return kafka.ReadCommitted(ctx, opts, kafka.Range{Topic: topic, Partition: partition, From: from, To: to}, fn)
}

func sameRecord(a, b *kgo.Record) bool {
	if (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Key, b.Key) || (a.Value == nil) != (b.Value == nil) ||
		!bytes.Equal(a.Value, b.Value) || !a.Timestamp.Equal(b.Timestamp) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}
