package mirror

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// unit is one (flow, source topic, partition) with what the planner knows
// about it.
type unit struct {
	lease.Unit  // the remote topic and partition on the target
	SourceTopic string
	// SourceID is the source topic's id, as text.
	SourceID string
	// RemoteID is the remote topic's id: TxnOffsetCommit v6+ names topics by id.
	RemoteID [16]byte
	LogStart int64 // first offset still on the source
	End      int64 // last stable offset on the source (read_committed end)
	Progress *Position
	// diverged says why the source log diverged from the position, which
	// checkEpochs found, with divergedAt where (-1: unknown); epochErr is
	// why it could not check.
	diverged   string
	divergedAt int64
	epochErr   error
}

// lag is how many source offsets are left to copy (control records count).
func (u *unit) lag(startFrom string) int64 {
	switch {
	case u.Progress != nil:
		return max(0, u.End-u.Progress.Next)
	case startFrom == "latest":
		return 0
	default:
		return max(0, u.End-u.LogStart)
	}
}

// needsWork: the unit has records to copy, or (latest) has no progress
// and must be anchored so later records are not missed, or its position
// was last committed longer ago than refresh and must be re-committed
// before the broker expires it.
func (u *unit) needsWork(startFrom string, refresh time.Duration) bool {
	return u.lag(startFrom) > 0 || (u.Progress == nil && startFrom == "latest") || u.refreshDue(refresh) || u.inconsistent()
}

// inconsistent: the committed position does not fit the source any more
// (topic recreated, data deleted, position past the end). Such a unit is
// claimed every invocation so that it fails loudly (or is reset, with a
// reset policy) instead of looking idle.
func (u *unit) inconsistent() bool {
	p := u.Progress
	return p != nil && ((p.SourceID != "" && p.SourceID != u.SourceID) || p.Next < u.LogStart || p.Next > u.End)
}

// refreshDue: the position is old enough to re-commit. A refresh
// transaction re-emits the last offset sync; a position with nothing
// copied since it was set (up=-1: a reset, a latest start) has none, and
// is refreshed as it was set, by an anchor (see position).
func (u *unit) refreshDue(refresh time.Duration) bool {
	return u.Progress != nil && time.Since(u.Progress.Committed) >= refresh
}

// plan is a flow's units, as listed at the start of an invocation.
type plan struct {
	Units []*unit
	// Waiting are source topics whose remote topic (or some partitions of
	// it) does not exist yet: reconcile creates them.
	Waiting []string
	// OffsetSyncsMissing is set when the flow's offset-syncs topic does
	// not exist on the target; OffsetSyncsID is its topic id otherwise
	// (the assignment entry is kept under it).
	OffsetSyncsMissing bool
	OffsetSyncsID      [16]byte
}

// makePlan lists the flow's source partitions, their offsets and their
// progress: a handful of requests whatever the history, so an idle
// invocation stays cheap.
func makePlan(ctx context.Context, f *config.Flow, src, tgt *kadm.Client) (*plan, error) {
	topics, err := src.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	var selected []string
	for _, t := range topics.Sorted() {
		if t.Err == nil && f.Rules.ShouldReplicate(t.Topic) {
			selected = append(selected, t.Topic)
		}
	}
	p := &plan{}
	remoteNames := make([]string, 0, len(selected)+1)
	for _, t := range selected {
		remoteNames = append(remoteNames, f.Rules.RemoteTopic(t))
	}
	remoteNames = append(remoteNames, f.OffsetSyncsTopic())
	remote, err := tgt.ListTopics(ctx, remoteNames...)
	if err != nil {
		return nil, fmt.Errorf("list remote topics: %w", err)
	}
	if d, ok := remote[f.OffsetSyncsTopic()]; !ok || d.Err != nil {
		p.OffsetSyncsMissing = true
	} else {
		p.OffsetSyncsID = d.ID
	}
	if len(selected) == 0 {
		return p, nil
	}
	starts, err := src.ListStartOffsets(ctx, selected...)
	if err != nil {
		return nil, fmt.Errorf("list source start offsets: %w", err)
	}
	ends, err := src.ListCommittedOffsets(ctx, selected...)
	if err != nil {
		return nil, fmt.Errorf("list source end offsets: %w", err)
	}
	progress, err := readProgress(ctx, tgt, ProgressGroup(f), nil)
	if err != nil {
		return nil, err
	}
	for _, t := range selected {
		rt := f.Rules.RemoteTopic(t)
		rd, ok := remote[rt]
		if !ok || rd.Err != nil {
			p.Waiting = append(p.Waiting, t)
			continue
		}
		waiting := false
		for _, part := range topics[t].Partitions.Sorted() {
			if _, ok := rd.Partitions[part.Partition]; !ok {
				waiting = true
				continue
			}
			s, _ := starts.Lookup(t, part.Partition)
			e, _ := ends.Lookup(t, part.Partition)
			if s.Err != nil || e.Err != nil {
				if s.Err == nil {
					s.Err = e.Err
				}
				if kerr.IsRetriable(s.Err) {
					continue // leader moving; next invocation
				}
				return nil, fmt.Errorf("list offsets of %s/%d: %w", t, part.Partition, s.Err)
			}
			u := &unit{Unit: lease.Unit{Topic: rt, Partition: part.Partition}, SourceTopic: t, SourceID: topics[t].ID.String(), RemoteID: rd.ID, LogStart: s.Offset, End: e.Offset}
			if pos, ok := progress[u.Unit]; ok {
				u.Progress = &pos
			}
			p.Units = append(p.Units, u)
		}
		if waiting {
			p.Waiting = append(p.Waiting, t)
		}
	}
	return p, nil
}

// candidates orders the units that need work: least recently committed
// first, so that over successive invocations every partition gets its
// turn; ties are shuffled so concurrent invocations spread out.
func (p *plan) candidates(startFrom string, refresh time.Duration) []*unit {
	var out []*unit
	for _, u := range p.Units {
		if u.needsWork(startFrom, refresh) {
			out = append(out, u)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	sort.SliceStable(out, func(i, j int) bool {
		return committedAt(out[i]) < committedAt(out[j])
	})
	return out
}

func committedAt(u *unit) int64 {
	if u.Progress == nil {
		return 0
	}
	return u.Progress.Committed.UnixMilli()
}

// lagLeft sums the lag of every unit.
func (p *plan) lagLeft(startFrom string) int64 {
	var n int64
	for _, u := range p.Units {
		n += u.lag(startFrom)
	}
	return n
}

// groupWork is one work group's units with work, in claiming order.
type groupWork struct {
	id    int
	units []*unit
}

// groups splits units (in claiming order) into their work groups under k
// groups. A lone invocation takes the groups most overdue first (by their
// most overdue unit); the invocations of a fanned-out tick, started at the
// same moment, each start at their own group (the one with index i at
// group i mod k) and go round from there, so that they do not all reach
// for the same leases.
func groups(units []*unit, k, index int, fanned bool) []groupWork {
	at := map[int]int{}
	var out []groupWork
	for _, u := range units {
		g := groupOf(u.SourceTopic, u.Partition, k)
		i, ok := at[g]
		if !ok {
			i = len(out)
			at[g] = i
			out = append(out, groupWork{id: g})
		}
		out[i].units = append(out[i].units, u)
	}
	if fanned {
		start := index % k
		sort.SliceStable(out, func(i, j int) bool {
			return (out[i].id-start+k)%k < (out[j].id-start+k)%k
		})
	}
	return out
}

// groupUnits is every unit of work group g under k groups, in claiming
// order: what a tailing run holds.
func (p *plan) groupUnits(g, k int, startFrom string, refresh time.Duration) []*unit {
	var out []*unit
	for _, u := range p.candidatesAll(startFrom, refresh) {
		if groupOf(u.SourceTopic, u.Partition, k) == g {
			out = append(out, u)
		}
	}
	return out
}

// candidatesAll is every unit, those that need work first.
func (p *plan) candidatesAll(startFrom string, refresh time.Duration) []*unit {
	out := p.candidates(startFrom, refresh)
	for _, u := range p.Units {
		if !u.needsWork(startFrom, refresh) {
			out = append(out, u)
		}
	}
	return out
}

// legacyTxnIDs are the per-partition transactional ids the mirror used
// before work groups, for the units that have a position (a writer of
// that version may be holding them): the first assignment fences them.
func (p *plan) legacyTxnIDs(flow string) []string {
	var out []string
	for _, u := range p.Units {
		if u.Progress != nil {
			out = append(out, names.UnitTransactionalID(flow, u.SourceTopic, u.Partition))
		}
	}
	return out
}

func (p *plan) find(lu lease.Unit) *unit {
	i := slices.IndexFunc(p.Units, func(u *unit) bool { return u.Unit == lu })
	if i < 0 {
		return nil
	}
	return p.Units[i]
}
