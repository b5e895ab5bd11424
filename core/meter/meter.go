// Package meter counts a long run's work as it goes, for a person
// watching: the core packages add to the Meter the context carries (if
// any), and the programs draw it on a terminal. Without a Meter in the
// context every call is a no-op, so Lambda and pipes pay nothing but a
// context lookup per batch of work.
package meter

import (
	"context"
	"sync/atomic"
)

// Meter is work planned and done, and records and bytes moved. What a unit
// of work is depends on the run: for the mirror, source offsets (Total the
// lag at planning, Done the offsets committed since); for `mirror adopt`
// partitions examined; for reconcile changes applied. Safe for concurrent
// use; a nil *Meter ignores everything.
type Meter struct {
	total, done, records, bytes atomic.Int64
}

// Snapshot is a Meter's counts at one moment.
type Snapshot struct {
	Total, Done, Records, Bytes int64
}

// AddTotal adds planned work.
func (m *Meter) AddTotal(n int64) {
	if m != nil {
		m.total.Add(n)
	}
}

// AddDone adds work done.
func (m *Meter) AddDone(n int64) {
	if m != nil {
		m.done.Add(n)
	}
}

// AddRecords adds records (and their bytes) moved.
func (m *Meter) AddRecords(records, bytes int64) {
	if m != nil {
		m.records.Add(records)
		m.bytes.Add(bytes)
	}
}

// Snapshot reads the counts (each atomically; together, nearly).
func (m *Meter) Snapshot() Snapshot {
	if m == nil {
		return Snapshot{}
	}
	return Snapshot{Total: m.total.Load(), Done: m.done.Load(), Records: m.records.Load(), Bytes: m.bytes.Load()}
}

type key struct{}

// With returns ctx carrying m.
func With(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, key{}, m)
}

// From returns the Meter ctx carries, or nil.
func From(ctx context.Context) *Meter {
	m, _ := ctx.Value(key{}).(*Meter)
	return m
}
